/* kernel.h --- the kernel model: every fact guile-ebpf keeps about the
   running kernel and the program kinds, one file of csrc/kernel/ each:
   the table of program kinds and the table of map kinds (kinds.c),
   where tracefs is and the tracepoint formats it describes (tracefs.c),
   vmlinux BTF (vmlinux-btf.c) and this process's capabilities
   (caps.c).  Every other file, in C and (through %bpf-kind-table,
   %bpf-map-kind-table, %bpf-tracefs and %bpf-tracepoint-format) in
   Scheme, asks here instead of keeping its own list or parsing what
   the kernel publishes itself.  Private.  */
#ifndef GEBPF_KERNEL_H
#define GEBPF_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>
#include "../gebpf.h"

/* --- kinds.c: program kinds, cgroup hooks, map kinds ------------------ */

/* Program kinds, in the order of the table (gebpf_kinds[PK_X] is kind
   X).  A new kind is one enumerator here and one row in kinds.c.  */
enum gebpf_prog_kind
{
  PK_XDP, PK_TC, PK_SOCKET_FILTER, PK_CGROUP_SKB, PK_CGROUP_SOCK_ADDR,
  PK_CGROUP_SOCK, PK_TRACEPOINT, PK_RAW_TRACEPOINT, PK_TP_BTF, PK_FENTRY,
  PK_FEXIT, PK_FMOD_RET, PK_LSM, PK_KPROBE, PK_KRETPROBE, PK_UPROBE,
  PK_URETPROBE, PK_USDT, PK_PERF_EVENT,
  PK_NONE                       /* the number of kinds; "no kind" */
};

enum gebpf_kind_flags
{
  KF_NET = 1,                   /* needs CAP_NET_ADMIN */
  KF_TRACE = 2,                 /* needs CAP_PERFMON */
  KF_BTF = 4,                   /* target is a BTF id fixed at load */
  KF_TRAMPOLINE = 8,            /* attached through a BPF trampoline */
  KF_CGROUP = 16,               /* attached to a cgroup, with an attach type */
  KF_PACKET = 32,               /* the context is a packet */
  KF_UPDATABLE = 64,            /* bpf_link_update (or tc replace) swaps it */
  KF_DISPATCHED = 128,          /* hot swap goes through a dispatcher stub */
  KF_NEEDS_TARGET = 256,        /* a declaration without target is refused */
  KF_MULTI_TARGET = 512,        /* #:attach may list targets, (probe) tells */
  KF_RETURN = 1024,             /* probes a function's return (kretprobe ...) */
};

/* The attach function of a kind: the one attach.c primitive (and the
   one Scheme procedure of bpf-object-attach) that attaches it.  */
enum gebpf_attach_fn
{
  ATTACH_NONE,                      /* not attached by bpf-object-attach */
  ATTACH_TRACEPOINT, ATTACH_RAW_TRACEPOINT, ATTACH_TRACE, ATTACH_KPROBE, ATTACH_UPROBE, ATTACH_USDT,
  ATTACH_XDP, ATTACH_TC, ATTACH_CGROUP, ATTACH_PERF_EVENT, ATTACH_SOCKET
};

struct gebpf_kind
{
  const char *name;             /* Scheme spelling */
  enum bpf_prog_type type;
  int attach_type;              /* expected attach type, or -1 */
  const char *section;          /* SEC() of generated C, "%s" = target;
                                   NULL: bpf-fn does not lower this kind */
  const char *ctx;              /* C type of the context argument */
  long default_return;          /* a body's value when it gives none */
  const char *returns;          /* what the return value means */
  const char *target;           /* what a target is, as a hint ("an
                                   interface, e.g. \"eth0\""), or NULL */
  enum gebpf_attach_fn attach;  /* how it is attached */
  unsigned flags;               /* KF_* */
  const char *caps;             /* capabilities loading needs */
  /* Stand-ins, space-separated: kinds of the same context class (see
     gebpf_kind_class) that reach the same events by another hook, for
     a kernel that refuses this kind (no trampolines, no kprobes).  They
     are never tried unless declared (#:kind '(fentry kprobe)); the
     error refusing this kind names them in its "Fix:".  */
  const char *fallbacks;
  const char *default_attach;   /* cgroup: attach type when none is given */
  const char *attach_option;    /* cgroup: the #:attach key choosing it */
  const char *bpfman;           /* bpfman's program type, or NULL */
};

extern const struct gebpf_kind gebpf_kinds[];
/* Name <-> kind for gebpf_sym_lookup: every kind, and the kinds bpf-fn
   lowers.  */
extern struct gebpf_sym gebpf_kind_syms[];
extern struct gebpf_sym gebpf_prog_kinds[];

const struct gebpf_kind *gebpf_kind (int kind);
bool gebpf_kind_has (int kind, unsigned flags);
/* What a kind's body sees: "packet", "socket" or "trace".  A stand-in
   of a fallback list is of the first kind's class.  */
const char *gebpf_kind_class (int kind);
/* The "Fix:" clause naming KIND's stand-ins ("declare #:kind '(fentry
   kprobe) to fall back to kprobe"), in BUF; "" when it has none.  */
const char *gebpf_kind_fallback_hint (int kind, char *buf, size_t size);

/* Cgroup hooks: the #:attach-type names (DESIGN §4's short ones, then
   the kernel's), each with the kind it fits.  */
struct gebpf_hook
{
  const char *name;
  int attach_type;              /* enum bpf_attach_type */
  int kind;                     /* enum gebpf_prog_kind */
  bool alias;                   /* the kernel's long name */
};

extern const struct gebpf_hook gebpf_hooks[];
extern struct gebpf_sym gebpf_hook_syms[];
bool gebpf_hook_fits (enum bpf_prog_type type, int attach_type);
const char *gebpf_hook_hint (enum bpf_prog_type type);

/* Map kinds.  */
enum gebpf_map_kind_flags
{
  K_KEYLESS = 1,                /* no key at all (ringbuf, queue ...) */
  K_PERCPU = 2,                 /* values are per CPU */
  K_INDEX = 4,                  /* key is a u32 index */
  K_FDVAL = 8,                  /* value is a u32 fd or id */
  K_INNER = 16,                 /* needs an inner map */
  K_NOITER = 32,                /* no iteration from user space */
  K_RECORDS = 64,               /* #:value is a record type, not a value */
  K_ARRAY = 128,                /* entries always exist; no delete */
};

struct gebpf_map_kind
{
  const char *name;             /* Scheme spelling */
  unsigned int map_type;        /* enum bpf_map_type */
  unsigned int flags;           /* K_* */
};

extern const struct gebpf_map_kind gebpf_map_kinds[];
extern struct gebpf_sym gebpf_map_kind_syms[];

/* tracefs.c's primitives, registered by kinds.c's gebpf_init_kernel:
   the kernel model's one init function.  */
void gebpf_init_tracefs (void);

/* --- tracefs.c: tracefs and the tracepoint formats ------------------- */

/* The directory tracefs is mounted on (the one that has events/), or NULL;
   when MOUNT_IT and it is nowhere, mount it at /sys/kernel/tracing first.
   The one place that knows where tracefs lives.  */
const char *gebpf_tracefs (bool mount_it);
/* Whether tracefs (mounted first when MOUNT_IT) has the file REL, a
   path relative to it ("kprobe_events").  */
bool gebpf_tracefs_has (const char *rel, bool mount_it);

/* A tracepoint field, as its format file describes it.  */
struct tp_field
{
  char name[64];
  char type[96];                /* the declaration without the name:
                                   "char [16]", "const char *" */
  int offset, size, is_signed;
  bool pointer, array, chars, dataloc;
};

/* One tracepoint's format: CAT/NAME and its fields (common_ ones left
   out).  */
struct tp_format
{
  char cat[64], name[128];
  int nfields;
  struct tp_field *fields;      /* GC memory */
};

/* The fields of a format file's TEXT (LEN bytes; not NUL-terminated)
   into TP->fields; TP's cat and name are the caller's.  Gives the
   number of fields.  Reads no file: #:tracepoint-format and the pure
   tests lower against a format given so.  */
int gebpf_tp_format_parse (const char *text, size_t len,
                           struct tp_format *tp);
/* The format of tracepoint CAT/NAME, read from tracefs into TP (its cat,
   name and fields).  False when tracefs is not mounted, CAT or NAME is
   not one path component, or the kernel has no such tracepoint.  */
bool gebpf_tp_format_read (const char *cat, const char *name,
                           struct tp_format *tp);
/* Every tracepoint whose category matches the glob CAT and name the glob
   NAME (fnmatch), with its format, into OUT (at most MAX).  Gives how
   many; 0 without tracefs.  */
int gebpf_tp_formats_matching (const char *cat, const char *name,
                               struct tp_format *out, int max);

/* --- vmlinux-btf.c: the kernel's own BTF ----------------------------- */

#define GEBPF_VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* vmlinux BTF, parsed once per process by libbpf and shared by every
   reader (the lowering's target descriptor, the feature probes, the
   list of BTF functions, vmlinux.h): parsing costs tens of
   milliseconds.  NULL with errno set when the kernel has none; never
   freed, never changed by its readers.  */
struct btf;
const struct btf *gebpf_vmlinux_btf (void);

/* --- caps.c: this process's capabilities ------------------------------ */

/* This process's effective capability set (CapEff of /proc/self/status),
   and whether capability CAP is in it.  */
uint64_t gebpf_effective_caps (void);
bool gebpf_have_cap (int cap);

#endif
