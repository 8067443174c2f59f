# Shared by postgres.sh and kafka.sh (sourced, not run): status reporting and the command switch.
# The sourcing script defines log(), cmd_start, cmd_stop, and the two probes it passes here.

# report_status ALIVE READY WHERE DETAILS: exit code 0 ready, 1 running but not ready, 3 stopped.
report_status() {
  local alive=$1 ready=$2 where=$3 details=$4
  if "$alive" && "$ready"; then
    log "running and answering on ${where} (${details})"
    return 0
  elif "$alive"; then
    log "process running but not answering on ${where} (${details})"
    return 1
  fi
  log "not running"
  return 3
}

# run_command SCRIPT PRINT_CMD ARG: start|stop|status, or PRINT_CMD (the script's address printer).
run_command() {
  local script=$1 print=$2 arg=${3:-}
  case "$arg" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    "$print") "$print" ;;
    *) echo "usage: ${script} start|stop|status|${print}" >&2; exit 2 ;;
  esac
}
