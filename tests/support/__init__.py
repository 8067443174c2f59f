"""What the tests and the benchmarks share: one place for each piece of set-up.

- `names`: unique names (schemas, databases, topic prefixes).
- `ports`: a free loopback port.
- `servers`: whether the real PostgreSQL and Kafka must be there, and skipping or failing without.
- `databases`: a fresh PostgreSQL database or schema, SQLite paths.
- `platform`: all (or some) services in this process, behind one httpx client, in either mode.
- `processes`: services, the whole platform or a relay as child processes (`onecard serve`,
  `onecard up`): environment and keys, readiness, stop, SIGKILL.
- `catalogue`: catalogue events into a platform's store or onto the catalog topic.
- `people`: valid resident ids (with the check character), card numbers, cards, payees.
- `waiting`: polling until a condition holds.

The benchmarks (`bench/*.py`, run as scripts from the repository root) import this package too.
"""
