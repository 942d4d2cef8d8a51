"""Architecture search: mutation, evolution, evaluators (training), Pareto logic, SQLite store, executors."""
