"""Finance's settlement pages: uploads followed to the end (uploads.py), the batches with their
figures and lines (batches.py), and one line with the orders it might be (lines.py). Finance and
admin only; every write calls the service the API calls."""
