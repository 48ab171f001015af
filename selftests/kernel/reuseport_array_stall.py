#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Kernel finding of the ioctl fuzzer, reproduced without bpfld (Documentation/fuzzing.rst,
"Kernel findings"): a BPF_MAP_TYPE_REUSEPORT_SOCKARRAY of 0x4000004 entries, created
and closed with bare bpf(2). Freeing it, reuseport_array_free() walks every entry under
one rcu_read_lock(); on the debug kernel (lockdep, KASAN) under TCG that takes minutes
and RCU reports a self-detected stall. Any CAP_BPF process can do this.

Run it in the debug kernel, without bpfld.ko:

  vng --disable-kvm --memory 2G --cpus 2 -r "$(scripts/kernel --variant debug --quiet)/arch/x86/boot/bzImage" \\
      -- python3 selftests/kernel/reuseport_array_stall.py
"""
import ctypes
import os
import struct
import subprocess
import time

BPF_MAP_CREATE = 0
BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20
SYS_BPF = {"x86_64": 321, "aarch64": 280}[os.uname().machine]

libc = ctypes.CDLL(None, use_errno=True)
attr = struct.pack("IIIII", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 0x4000004, 0)
buf = ctypes.create_string_buffer(attr.ljust(128, b"\0"), 128)
t = time.time()
fd = libc.syscall(SYS_BPF, BPF_MAP_CREATE, buf, 128)
print(f"BPF_MAP_CREATE: fd {fd}, errno {ctypes.get_errno()}, {time.time() - t:.1f} s", flush=True)
if fd >= 0:
    os.close(fd)
time.sleep(90)
log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
hits = [l for l in log.splitlines() if "stall" in l or "reuseport_array_free" in l]
print("\n".join(hits) if hits else "no stall reported")
