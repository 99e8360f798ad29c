"""The HNAS method, independent of BasicSR: search space, operations, cells, cost, strategy."""
