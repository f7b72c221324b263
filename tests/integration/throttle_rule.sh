#!/usr/bin/env bash
# placeholder, being written
. "$(dirname "$0")/lib.sh"
skip "not written yet"
