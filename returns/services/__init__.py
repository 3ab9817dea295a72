"""Every write of a return's lifecycle. Each transition is one transaction, checked against the
state machine's one table (returns/rules.py: which step a state allows, 409 for any other) and
recorded with who, when and the correlation id. What a refund gives back is computed in
returns/quote.py, the same figures finance sees before approving.

- transitions.py: the row locked, the step checked, the move made and written on the timeline
- request.py: opening a return (the order's returnable units taken at once)
- authorization.py: authorize, reject, cancel
- receipt.py: goods arriving, parcel by parcel, at any location
- inspection.py: each received unit's fate, where it waits
- stock.py: stock following the goods, through the inventory service
- refund.py: the refund as quoted, and the close
- exchange.py: the replacement order of an exchange

Every service takes `now` keyword-only and passes it to everything it stamps.
"""

from .authorization import return_authorize, return_cancel, return_reject
from .inspection import DISPOSITIONS, Disposition, return_inspect
from .receipt import ReceiptLine, return_receive
from .refund import return_close, return_refund
from .request import LineInput, return_new, return_request
from .transitions import Actor

__all__ = [
    "DISPOSITIONS",
    "Actor",
    "Disposition",
    "LineInput",
    "ReceiptLine",
    "return_authorize",
    "return_cancel",
    "return_close",
    "return_inspect",
    "return_new",
    "return_receive",
    "return_refund",
    "return_reject",
    "return_request",
]
