from onecard_events.migrations import run_env

run_env()
