#!/bin/bash
# The boot rehearsal's guest: PID 1 of a new PID and mount namespace, inside the rehearsal's network namespace
# (tools/sandbox/rehearsal/harness.py starts it with `ip netns exec <ns> unshare --mount --pid --fork`).
# It mounts an overlay of the host's / whose upper layer is this rehearsal's own folder, refuses to go on unless the
# script's / is exactly that overlay (the user data runs useradd and rm -rf as root), mounts /proc, /dev, /sys, /run
# and /tmp as an instance has them, and runs the user data as root with the environment cloud-init gives it plus
# AWS_ENDPOINT_URL. Its exit status goes to /var/lib/rehearsal/exit (visible in the upper folder); then it stays, so
# the services the script started keep running until the harness kills this namespace.
set -euo pipefail
folder=$1
endpoint=$2
merged=$folder/merged

mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$folder/upper,workdir=$folder/work" "$merged"
options=$(findmnt -n -o FSTYPE,OPTIONS --mountpoint "$merged")
case "$options" in
  "overlay "*"upperdir=$folder/upper,"*) ;;
  *)
    echo "rehearsal: refusing to run: $merged is not an overlay with the upper layer $folder/upper ($options)" >&2
    exit 97
    ;;
esac
mount -t proc proc "$merged/proc"
mount --rbind /dev "$merged/dev"
mount --rbind -o ro /sys "$merged/sys"
mount -t tmpfs -o mode=0755 tmpfs "$merged/run"
mount -t tmpfs -o mode=1777 tmpfs "$merged/tmp"
# An instance has no ~/.aws: the CLI must take the role's credentials from the IMDS stand-in.
rm -rf "$merged/root/.aws"

exec chroot "$merged" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 AWS_ENDPOINT_URL="$endpoint" /bin/bash -c '
    bash /var/lib/cloud/instance/user-data.txt
    echo $? >/var/lib/rehearsal/exit
    exec sleep infinity'
