"""The Amazon settlement V2 parser alone, on a generated file: rows per second and peak memory.

    .venv/bin/python -m bench.settlement_parse [ROWS]    (default 1,000,000)

The file has one order per five rows (principal, tax, withheld tax, commission, FBA fee), as
`amazon_v2_file` writes it; the summary's total is the exact sum of the rows, so the control
total passes. The parse is timed from the first byte to the last record, with records consumed
and dropped as the loader would (nothing kept). `amazon_v2_file` is importable for other benches.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO

HEADER = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\t"
    "currency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\t"
    "marketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\t"
    "posted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\t"
    "quantity-purchased\tpromotion-id\n"
)
COMPONENTS = (
    ("ItemPrice", "Principal", Decimal("29.99")),
    ("ItemPrice", "Tax", Decimal("2.40")),
    ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", Decimal("-2.40")),
    ("ItemFees", "Commission", Decimal("-4.50")),
    ("ItemFees", "FBAPerUnitFulfillmentFee", Decimal("-3.22")),
)


def amazon_v2_order_id(n: int) -> str:
    return f"111-{n // 10_000_000:07d}-{n % 10_000_000:07d}"


def amazon_v2_rows(
    orders: int, settlement_id: str = "12345678901", first: int = 0
) -> Iterator[str]:
    """The detail rows of `orders` orders numbered from `first`, five components each (no
    header, no summary)."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for n in range(first, first + orders):
        order_id = amazon_v2_order_id(n)
        posted = start + timedelta(seconds=n * 6)
        when = posted.strftime("%Y-%m-%d %H:%M:%S UTC")
        day = posted.strftime("%Y-%m-%d")
        item = f"{n:014d}"
        for amount_type, description, amount in COMPONENTS:
            yield (
                f"{settlement_id}\t\t\t\t\t\tOrder\t{order_id}\t\t\tS{n}\tAmazon.com\t{amount_type}"
                f"\t{description}\t{amount}\tAFN\t{day}\t{when}\t{item}\t\t\tSKU-{n % 5000}\t1\t\n"
            )


def amazon_v2_file(
    out: IO[bytes], orders: int, settlement_id: str = "12345678901", first: int = 0
) -> int:
    """Writes a whole file (orders numbered from `first`); returns its row count (detail
    rows)."""
    per_order = sum(amount for _, _, amount in COMPONENTS)
    total = per_order * orders
    out.write(HEADER.encode())
    summary = (
        f"{settlement_id}\t2024-03-01 00:00:00 UTC\t2024-03-15 00:00:00 UTC\t"
        f"2024-03-17 00:00:00 UTC\t{total}\tUSD" + "\t" * 18 + "\n"
    )
    out.write(summary.encode())
    rows = 0
    chunk: list[str] = []
    for line in amazon_v2_rows(orders, settlement_id, first):
        chunk.append(line)
        rows += 1
        if len(chunk) == 10_000:
            out.write("".join(chunk).encode())
            chunk.clear()
    out.write("".join(chunk).encode())
    return rows


def main() -> None:
    from settlements.parsers import amazon

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settlement.tsv"
        with path.open("wb") as out:
            amazon_v2_file(out, rows // len(COMPONENTS))
        size = path.stat().st_size
        with path.open("rb") as stream:
            started, cpu_started = time.perf_counter(), time.process_time()
            count = 0
            for _ in amazon.parse(stream):
                count += 1
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"amazon v2: {count - 1:,} lines ({size / 1e6:.0f} MB) in {elapsed:.2f} s ="
        f" {(count - 1) / elapsed:,.0f} rows/s ({(count - 1) / cpu:,.0f} per CPU second);"
        f" peak RSS {peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
