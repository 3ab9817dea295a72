"""Finance's journal pages: the entries with their filters, one entry with its lines and each
line's sources down to the orders, settlement lines and returns (entries.py), and each step of
an entry's life from a button (actions.py). Finance and admin only; every write calls the
service the API calls. The way back up, from those records' pages, is in `journals.panels`."""
