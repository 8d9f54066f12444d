#!/bin/busybox sh
# PID 1 of the IPVS test guest (built by `cargo xtask ipvs-test`).
# Mounts the host's 9p share (tag host0) on /mnt, runs /mnt/run.sh with its
# output on the console and in /mnt/out.log, writes its exit status to /mnt/rc
# and hands it to qemu through isa-debug-exit (qemu exits with (rc << 1) | 1).
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname ipvs-guest
/sbin/ip link set lo up
# libcrc32c (needed by ip_vs and nf_conntrack) has a soft dependency on
# crc32c, which busybox modprobe does not follow.
modprobe crc32c_generic
modprobe virtio_pci
modprobe 9pnet_virtio
modprobe 9p
# Loaded before the tests: tests run in parallel, and a second `ip link add
# type bridge` racing the first one's module autoload fails with "Unknown
# device type" while the module is still coming up.
modprobe veth
modprobe bridge
modprobe dummy
rc=125
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host0 /mnt; then
    echo "GUEST_RUN_START uptime=$(cut -d' ' -f1 /proc/uptime)"
    { /mnt/run.sh; echo $? > /tmp/rc; } 2>&1 | tee /mnt/out.log
    rc=$(cat /tmp/rc)
    echo "$rc" > /mnt/rc
    echo "GUEST_RC=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
else
    echo "GUEST_ERROR: cannot mount the 9p share"
fi
sync
printf "\\$(printf %o "$rc")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
