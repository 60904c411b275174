#!/bin/sh
# Writes the AMI secret from the environment into a file manager.conf includes, then runs Asterisk.
set -eu
: "${CTI_PBX_MAIN_SECRET:?set CTI_PBX_MAIN_SECRET}"
printf 'secret = %s\n' "$CTI_PBX_MAIN_SECRET" > /etc/asterisk/manager_secret.conf
exec asterisk -f -vvv
