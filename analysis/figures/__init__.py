"""Every figure of an analysis. write.py draws them all (add a figure there); style.py holds what they share."""
