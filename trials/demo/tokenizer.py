"""The demo tokenizer: a byte-level BPE trained locally in under a second, with a minimal Q/A chat template.

Digits are split one per token before byte-level BPE, so the model sees every number digit by digit (BPE
would otherwise merge frequent numbers into single tokens and arithmetic could not generalise). The byte-level
alphabet is complete, so any text encodes and a string of n ASCII characters never takes more than n tokens.

The chat template renders a conversation as `Q: {user}\nA: {assistant}</s>\n`. The generation prompt is the
`A:` that opens an assistant turn, so a prompt rendered with `add_generation_prompt=True` is exactly a prefix
of the prompt + completion (what TRL's completion-only loss and lm-eval's `doc_to_text: "Q: ...\nA:"` rely
on). The assistant's reply is wrapped in `{% generation %}` for TRL's `assistant_only_loss`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{ 'Q: ' + message['content'] + '\n' }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{ 'A:' }}{% generation %}{{ ' ' + message['content'] + eos_token }}{% endgeneration %}{{ '\n' }}"
    "{%- else -%}"
    "{{ raise_exception('the demo chat template has no role ' + message['role']) }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'A:' }}{%- endif -%}"
)


def train_demo_tokenizer(corpus: list[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE (digits split one per token) on `corpus`, with specials and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS, PAD, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped
