/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* gebpf.h --- fixed BPF-side helper code included by the C that
   guile-ebpf generates from bpf-fn bodies.  (Being written.)  */
#ifndef GEBPF_BPF_H
#define GEBPF_BPF_H
#endif
