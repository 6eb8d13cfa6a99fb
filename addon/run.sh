#!/usr/bin/with-contenv sh
# Entry point of the add-on image: s6-overlay's with-contenv passes SUPERVISOR_TOKEN on.
# The options (/data/options.json) and the run store (/data/runs) are found by the program.
set -e
exec ems-optimizer serve
