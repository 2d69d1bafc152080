"""Runs scim2-tester's whole compliance check against a live Rolecall SCIM service.

Usage: python check.py BASE_URL TOKEN
Prints one line per check and exits 1 when any check ends in ERROR or CRITICAL.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    scim = SyncSCIMClient(http)
    results = check_server(scim)
    bad = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    for r in results:
        print(f"{r.status.name:10} {r.resource_type or '-':6} {r.title}: {r.reason}")
    print(f"{len(results)} checks, {len(bad)} failed")
    return 1 if bad or not results else 0


if __name__ == "__main__":
    sys.exit(main())
