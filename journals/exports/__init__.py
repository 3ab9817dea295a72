"""File exports of journals for an ERP's own import (CSV) or for plain-text accounting
(Beancount). Each writes a sequence of `ErpJournal` to a text stream as it goes."""
