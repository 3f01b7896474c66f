/* kinds.c --- the kernel model: every fact guile-ebpf keeps about a
   program kind or a map kind, in one table each.

   The loader (program.c), the lowering (lower/), the map layer (map.c)
   and the Scheme modules (through %bpf-kind-table and
   %bpf-map-kind-table, wrapped by (ebpf kernel)) all read these rows;
   none keeps a list of its own.  To add a program kind: one enumerator
   in kernel.h and one row here.  The other facts of the running kernel
   are the other files of this folder (kernel.h lists them).  */
#define _GNU_SOURCE
#include <config.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel.h"

#define NET_CAPS "CAP_BPF and CAP_NET_ADMIN"
#define TRACE_CAPS "CAP_BPF and CAP_PERFMON"
/* Targets, as the hints of errors say them.  */
#define T_IFACE "an interface, e.g. \"eth0\""
#define T_CGROUP "a cgroup2 directory"
#define T_FUNCTION "a kernel function"
#define T_LIB_SYMBOL "\"LIB:SYMBOL\", e.g. \"libc:malloc\""

/* Rows in enum gebpf_prog_kind order (checked at init).  Fields: name,
   prog type, expected attach type, SEC(), context, default return,
   return convention, target, attach function, flags, capabilities,
   fallbacks, default cgroup attach type and the #:attach key choosing
   it, bpfman type.  */
const struct gebpf_kind gebpf_kinds[] = {
  [PK_XDP] = {"xdp", BPF_PROG_TYPE_XDP, -1, "xdp", "struct xdp_md *",
              2 /* XDP_PASS */, "xdp-action", T_IFACE, ATTACH_XDP,
              KF_NET | KF_PACKET | KF_UPDATABLE | KF_NEEDS_TARGET,
              NET_CAPS, NULL, NULL, NULL, "XDP"},
  [PK_TC] = {"tc", BPF_PROG_TYPE_SCHED_CLS, -1, "tc", "struct __sk_buff *",
             0 /* TC_ACT_OK */, "tc-action", T_IFACE, ATTACH_TC,
             KF_NET | KF_PACKET | KF_UPDATABLE | KF_NEEDS_TARGET,
             NET_CAPS, NULL, NULL, NULL, "TC"},
  [PK_SOCKET_FILTER] = {"socket-filter", BPF_PROG_TYPE_SOCKET_FILTER, -1,
                        "socket", "struct __sk_buff *",
                        -1 /* keep the whole packet */, "bytes-kept",
                        "a socket, given to bpf-attach-socket!", ATTACH_SOCKET,
                        KF_NET | KF_PACKET, NET_CAPS, NULL, NULL, NULL, NULL},
  [PK_CGROUP_SKB] = {"cgroup-skb", BPF_PROG_TYPE_CGROUP_SKB, -1,
                     "cgroup_skb/%s", "struct __sk_buff *", 1 /* allow */,
                     "allow-deny", T_CGROUP, ATTACH_CGROUP,
                     KF_NET | KF_CGROUP | KF_PACKET | KF_UPDATABLE,
                     NET_CAPS, NULL, "ingress", "direction", NULL},
  [PK_CGROUP_SOCK_ADDR] = {"cgroup-sock-addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                           -1, "cgroup/%s", "struct bpf_sock_addr *",
                           1 /* allow */, "allow-deny", T_CGROUP, ATTACH_CGROUP,
                           KF_NET | KF_CGROUP | KF_UPDATABLE, NET_CAPS, NULL,
                           "connect4", "hook", NULL},
  [PK_CGROUP_SOCK] = {"cgroup-sock", BPF_PROG_TYPE_CGROUP_SOCK, -1, NULL,
                      NULL, 1, "allow-deny", T_CGROUP, ATTACH_CGROUP,
                      KF_NET | KF_CGROUP, NET_CAPS, NULL, NULL, "hook", NULL},
  [PK_TRACEPOINT] = {"tracepoint", BPF_PROG_TYPE_TRACEPOINT, -1,
                     "tracepoint/%s", "void *", 0, "ignored",
                     "\"CATEGORY/NAME\", e.g. \"syscalls/sys_enter_openat\"",
                     ATTACH_TRACEPOINT,
                     KF_TRACE | KF_DISPATCHED | KF_MULTI_TARGET, TRACE_CAPS,
                     NULL, NULL, NULL, "TracePoint"},
  [PK_RAW_TRACEPOINT] = {"raw-tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT, -1,
                         "raw_tracepoint/%s",
                         "struct bpf_raw_tracepoint_args *", 0, "ignored",
                         "a tracepoint name, e.g. \"sys_enter\"",
                         ATTACH_RAW_TRACEPOINT, KF_TRACE | KF_DISPATCHED,
                         TRACE_CAPS, NULL, NULL, NULL, NULL},
  [PK_TP_BTF] = {"tp-btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP,
                 "tp_btf/%s", "__u64 *", 0, "ignored",
                 "a BTF tracepoint, e.g. \"sched_switch\"", ATTACH_TRACE,
                 KF_TRACE | KF_BTF, TRACE_CAPS, "raw-tracepoint",
                 NULL, NULL, NULL},
  [PK_FENTRY] = {"fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY,
                 "fentry/%s", "__u64 *", 0, "ignored", T_FUNCTION, ATTACH_TRACE,
                 KF_TRACE | KF_BTF | KF_TRAMPOLINE, TRACE_CAPS, "kprobe",
                 NULL, NULL, "FEntry"},
  [PK_FEXIT] = {"fexit", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, "fexit/%s",
                "__u64 *", 0, "ignored", T_FUNCTION, ATTACH_TRACE,
                KF_TRACE | KF_BTF | KF_TRAMPOLINE | KF_RETURN, TRACE_CAPS,
                "kretprobe", NULL, NULL, "FExit"},
  [PK_FMOD_RET] = {"fmod-ret", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN,
                   NULL, NULL, 0, "return-value", T_FUNCTION, ATTACH_TRACE,
                   KF_TRACE | KF_BTF | KF_TRAMPOLINE, TRACE_CAPS, NULL, NULL,
                   NULL, NULL},
  [PK_LSM] = {"lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "lsm/%s", "__u64 *", 0,
              "errno", "an LSM hook, e.g. \"file_open\"", ATTACH_TRACE,
              KF_TRACE | KF_BTF | KF_TRAMPOLINE, TRACE_CAPS, NULL, NULL, NULL,
              NULL},
  [PK_KPROBE] = {"kprobe", BPF_PROG_TYPE_KPROBE, -1, "kprobe/%s",
                 "struct pt_regs *", 0, "ignored", T_FUNCTION, ATTACH_KPROBE,
                 KF_TRACE | KF_DISPATCHED | KF_MULTI_TARGET, TRACE_CAPS,
                 "fentry", NULL, NULL, "KProbe"},
  [PK_KRETPROBE] = {"kretprobe", BPF_PROG_TYPE_KPROBE, -1, "kretprobe/%s",
                    "struct pt_regs *", 0, "ignored", T_FUNCTION, ATTACH_KPROBE,
                    KF_TRACE | KF_DISPATCHED | KF_MULTI_TARGET | KF_RETURN,
                    TRACE_CAPS, "fexit", NULL, NULL, "KRetProbe"},
  [PK_UPROBE] = {"uprobe", BPF_PROG_TYPE_KPROBE, -1, "uprobe",
                 "struct pt_regs *", 0, "ignored", T_LIB_SYMBOL, ATTACH_UPROBE,
                 KF_TRACE | KF_DISPATCHED | KF_MULTI_TARGET, TRACE_CAPS,
                 NULL, NULL, NULL, "UProbe"},
  [PK_URETPROBE] = {"uretprobe", BPF_PROG_TYPE_KPROBE, -1, "uretprobe",
                    "struct pt_regs *", 0, "ignored", T_LIB_SYMBOL, ATTACH_UPROBE,
                    KF_TRACE | KF_DISPATCHED | KF_MULTI_TARGET | KF_RETURN,
                    TRACE_CAPS, NULL, NULL, NULL, "URetProbe"},
  [PK_USDT] = {"usdt", BPF_PROG_TYPE_KPROBE, -1, "usdt", "struct pt_regs *", 0,
               "ignored", "\"LIB:PROVIDER:NAME\"", ATTACH_USDT,
               KF_TRACE | KF_MULTI_TARGET, TRACE_CAPS, NULL, NULL, NULL, NULL},
  [PK_PERF_EVENT] = {"perf-event", BPF_PROG_TYPE_PERF_EVENT, -1,
                     "perf_event", "struct bpf_perf_event_data *", 0,
                     "ignored", NULL /* every CPU, at #:frequency */,
                     ATTACH_PERF_EVENT, KF_TRACE | KF_DISPATCHED,
                     TRACE_CAPS, NULL, NULL, NULL, NULL},
  /* A new kind: its enumerator in kernel.h (before PK_NONE), a row
     here; every reader in C and Scheme then knows it.  */
  [PK_NONE] = {NULL, 0, 0, NULL, NULL, 0, NULL, NULL, ATTACH_NONE, 0, NULL, NULL,
               NULL, NULL, NULL}
};

/* One row per enumerator, the terminator last.  */
_Static_assert (sizeof gebpf_kinds / sizeof gebpf_kinds[0] == PK_NONE + 1,
                "a row for every enum gebpf_prog_kind");

struct gebpf_sym gebpf_kind_syms[PK_NONE + 1];
struct gebpf_sym gebpf_prog_kinds[PK_NONE + 1];

const struct gebpf_kind *
gebpf_kind (int kind)
{
  return kind >= 0 && kind < PK_NONE ? &gebpf_kinds[kind] : NULL;
}

bool
gebpf_kind_has (int kind, unsigned flags)
{
  const struct gebpf_kind *k = gebpf_kind (kind);
  return k && (k->flags & flags);
}

const char *
gebpf_kind_class (int kind)
{
  const struct gebpf_kind *k = gebpf_kind (kind);
  if (!k)
    return NULL;
  return k->flags & KF_PACKET ? "packet" : k->flags & KF_NET ? "socket"
    : "trace";
}

const char *
gebpf_kind_fallback_hint (int kind, char *buf, size_t size)
{
  const struct gebpf_kind *k = gebpf_kind (kind);
  if (!size)
    return "";
  buf[0] = 0;
  if (k && k->fallbacks && *k->fallbacks)
    snprintf (buf, size, "declare #:kind '(%s %s) to fall back to %s where "
              "this kernel refuses %s", k->name, k->fallbacks,
              k->fallbacks, k->name);
  return buf;
}

#define HOOK2(n, long, at, k) {n, at, k, false}, {long, at, k, true}
const struct gebpf_hook gebpf_hooks[] = {
  HOOK2 ("ingress", "cgroup-inet-ingress", BPF_CGROUP_INET_INGRESS,
         PK_CGROUP_SKB),
  HOOK2 ("egress", "cgroup-inet-egress", BPF_CGROUP_INET_EGRESS,
         PK_CGROUP_SKB),
  HOOK2 ("sock-create", "cgroup-inet-sock-create",
         BPF_CGROUP_INET_SOCK_CREATE, PK_CGROUP_SOCK),
  HOOK2 ("sock-release", "cgroup-inet-sock-release",
         BPF_CGROUP_INET_SOCK_RELEASE, PK_CGROUP_SOCK),
  HOOK2 ("post-bind4", "cgroup-inet4-post-bind", BPF_CGROUP_INET4_POST_BIND,
         PK_CGROUP_SOCK),
  HOOK2 ("post-bind6", "cgroup-inet6-post-bind", BPF_CGROUP_INET6_POST_BIND,
         PK_CGROUP_SOCK),
  HOOK2 ("connect4", "cgroup-inet4-connect", BPF_CGROUP_INET4_CONNECT,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("connect6", "cgroup-inet6-connect", BPF_CGROUP_INET6_CONNECT,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("bind4", "cgroup-inet4-bind", BPF_CGROUP_INET4_BIND,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("bind6", "cgroup-inet6-bind", BPF_CGROUP_INET6_BIND,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("sendmsg4", "cgroup-udp4-sendmsg", BPF_CGROUP_UDP4_SENDMSG,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("sendmsg6", "cgroup-udp6-sendmsg", BPF_CGROUP_UDP6_SENDMSG,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("recvmsg4", "cgroup-udp4-recvmsg", BPF_CGROUP_UDP4_RECVMSG,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("recvmsg6", "cgroup-udp6-recvmsg", BPF_CGROUP_UDP6_RECVMSG,
         PK_CGROUP_SOCK_ADDR),
  HOOK2 ("getpeername4", "cgroup-inet4-getpeername",
         BPF_CGROUP_INET4_GETPEERNAME, PK_CGROUP_SOCK_ADDR),
  HOOK2 ("getpeername6", "cgroup-inet6-getpeername",
         BPF_CGROUP_INET6_GETPEERNAME, PK_CGROUP_SOCK_ADDR),
  HOOK2 ("getsockname4", "cgroup-inet4-getsockname",
         BPF_CGROUP_INET4_GETSOCKNAME, PK_CGROUP_SOCK_ADDR),
  HOOK2 ("getsockname6", "cgroup-inet6-getsockname",
         BPF_CGROUP_INET6_GETSOCKNAME, PK_CGROUP_SOCK_ADDR),
  {NULL, 0, 0, false}
};
#undef HOOK2

struct gebpf_sym gebpf_hook_syms[sizeof gebpf_hooks / sizeof gebpf_hooks[0]];

/* Whether attach type AT is a hook of a kind of program type TYPE.  */
bool
gebpf_hook_fits (enum bpf_prog_type type, int at)
{
  for (const struct gebpf_hook *h = gebpf_hooks; h->name; h++)
    if (h->attach_type == at && gebpf_kinds[h->kind].type == type)
      return true;
  return false;
}

/* The fix of an attach type that does not fit TYPE: its hooks.  */
const char *
gebpf_hook_hint (enum bpf_prog_type type)
{
  static __thread char buf[512];
  size_t n = 0, count = 0, len = 0;
  for (const struct gebpf_hook *h = gebpf_hooks; h->name; h++)
    if (!h->alias && gebpf_kinds[h->kind].type == type)
      count++;
  if (!count)
    return "#:attach-type is for cgroup-skb, cgroup-sock and "
      "cgroup-sock-addr programs only";
  len = snprintf (buf, sizeof buf, "use #:attach-type ");
  for (const struct gebpf_hook *h = gebpf_hooks; h->name; h++)
    if (!h->alias && gebpf_kinds[h->kind].type == type && len < sizeof buf)
      {
        n++;
        len += snprintf (buf + len, sizeof buf - len, "%s'%s",
                         n == 1 ? "" : n == count ? " or " : ", ", h->name);
      }
  return buf;
}

const struct gebpf_map_kind gebpf_map_kinds[] = {
  {"hash", BPF_MAP_TYPE_HASH, 0},
  {"array", BPF_MAP_TYPE_ARRAY, K_INDEX | K_ARRAY},
  {"per-cpu-hash", BPF_MAP_TYPE_PERCPU_HASH, K_PERCPU},
  {"per-cpu-array", BPF_MAP_TYPE_PERCPU_ARRAY, K_PERCPU | K_INDEX | K_ARRAY},
  {"lru-hash", BPF_MAP_TYPE_LRU_HASH, 0},
  {"lru-per-cpu-hash", BPF_MAP_TYPE_LRU_PERCPU_HASH, K_PERCPU},
  {"lpm-trie", BPF_MAP_TYPE_LPM_TRIE, 0},
  {"ringbuf", BPF_MAP_TYPE_RINGBUF, K_KEYLESS | K_NOITER | K_RECORDS},
  {"perf-event-array", BPF_MAP_TYPE_PERF_EVENT_ARRAY,
   K_INDEX | K_FDVAL | K_RECORDS | K_ARRAY},
  {"stack-trace", BPF_MAP_TYPE_STACK_TRACE, K_INDEX},
  {"prog-array", BPF_MAP_TYPE_PROG_ARRAY, K_INDEX | K_FDVAL | K_ARRAY},
  {"queue", BPF_MAP_TYPE_QUEUE, K_KEYLESS | K_NOITER},
  {"stack", BPF_MAP_TYPE_STACK, K_KEYLESS | K_NOITER},
  {"bloom-filter", BPF_MAP_TYPE_BLOOM_FILTER, K_KEYLESS | K_NOITER},
  {"devmap", BPF_MAP_TYPE_DEVMAP, K_INDEX | K_FDVAL | K_ARRAY},
  {"devmap-hash", BPF_MAP_TYPE_DEVMAP_HASH, K_INDEX | K_FDVAL},
  {"cpumap", BPF_MAP_TYPE_CPUMAP, K_INDEX | K_FDVAL | K_ARRAY},
  {"xskmap", BPF_MAP_TYPE_XSKMAP, K_INDEX | K_FDVAL | K_ARRAY},
  {"array-of-maps", BPF_MAP_TYPE_ARRAY_OF_MAPS,
   K_INDEX | K_FDVAL | K_INNER | K_ARRAY},
  {"hash-of-maps", BPF_MAP_TYPE_HASH_OF_MAPS, K_FDVAL | K_INNER},
  {"cgroup-array", BPF_MAP_TYPE_CGROUP_ARRAY, K_INDEX | K_FDVAL | K_ARRAY},
  {"histogram", BPF_MAP_TYPE_PERCPU_ARRAY, K_PERCPU | K_INDEX | K_ARRAY},
  {NULL, 0, 0}
};

struct gebpf_sym gebpf_map_kind_syms[sizeof gebpf_map_kinds
                                     / sizeof gebpf_map_kinds[0]];

/* ---- Scheme views -------------------------------------------------- */

#define SYM(s) scm_from_utf8_symbol (s)

static SCM
sym_or_false (const char *s)
{
  return s ? SYM (s) : SCM_BOOL_F;
}

static SCM
str_or_false (const char *s)
{
  return s ? scm_from_utf8_string (s) : SCM_BOOL_F;
}

/* "a b c" -> (a b c).  */
static SCM
symbol_list (const char *s)
{
  SCM l = SCM_EOL;
  while (s && *s)
    {
      size_t n = strcspn (s, " ");
      if (n)
        l = scm_cons (scm_from_utf8_symboln (s, n), l);
      s += n + (s[n] == ' ');
    }
  return scm_reverse_x (l, SCM_EOL);
}

/* libbpf's name of a kernel enum, '_' as '-'; #f when libbpf has none.  */
static SCM
kernel_name (const char *s)
{
  if (!s)
    return SCM_BOOL_F;
  char buf[64];
  snprintf (buf, sizeof buf, "%s", s);
  for (char *p = buf; *p; p++)
    if (*p == '_')
      *p = '-';
  return SYM (buf);
}

static SCM
flag_list (unsigned flags, const struct gebpf_sym *names)
{
  SCM l = SCM_EOL;
  for (const struct gebpf_sym *e = names; e->name; e++)
    if (flags & e->value)
      l = scm_cons (SYM (e->name), l);
  return scm_reverse_x (l, SCM_EOL);
}

static const struct gebpf_sym kind_flag_names[] = {
  {"net", KF_NET}, {"trace", KF_TRACE}, {"btf", KF_BTF},
  {"trampoline", KF_TRAMPOLINE}, {"cgroup", KF_CGROUP},
  {"packet", KF_PACKET}, {"updatable", KF_UPDATABLE},
  {"dispatched", KF_DISPATCHED}, {"multi-target", KF_MULTI_TARGET},
  {"return", KF_RETURN}, {NULL, 0}
};

static const struct gebpf_sym map_flag_names[] = {
  {"keyless", K_KEYLESS}, {"per-cpu", K_PERCPU}, {"index", K_INDEX},
  {"fd-value", K_FDVAL}, {"inner-map", K_INNER}, {"no-iteration", K_NOITER},
  {"records", K_RECORDS}, {"array", K_ARRAY}, {NULL, 0}
};

static const char *const attach_fn_names[] = {
  [ATTACH_NONE] = NULL, [ATTACH_TRACEPOINT] = "tracepoint",
  [ATTACH_RAW_TRACEPOINT] = "raw-tracepoint", [ATTACH_TRACE] = "trace",
  [ATTACH_KPROBE] = "kprobe", [ATTACH_UPROBE] = "uprobe", [ATTACH_USDT] = "usdt",
  [ATTACH_XDP] = "xdp", [ATTACH_TC] = "tc", [ATTACH_CGROUP] = "cgroup",
  [ATTACH_PERF_EVENT] = "perf-event", [ATTACH_SOCKET] = "socket",
};

/* The short names of the hooks of kind KIND.  */
static SCM
hook_list (int kind)
{
  SCM l = SCM_EOL;
  for (const struct gebpf_hook *h = gebpf_hooks; h->name; h++)
    if (!h->alias && h->kind == kind)
      l = scm_cons (SYM (h->name), l);
  return scm_reverse_x (l, SCM_EOL);
}

static SCM
kind_alist (const struct gebpf_kind *k)
{
  const char *slash = k->section ? strchr (k->section, '/') : NULL;
  SCM prefix = !k->section ? SCM_BOOL_F
    : slash ? scm_from_utf8_stringn (k->section, slash - k->section)
    : scm_from_utf8_string (k->section);
  return scm_list_n
    (scm_cons (SYM ("name"), SYM (k->name)),
     scm_cons (SYM ("prog-type"),
               kernel_name (libbpf_bpf_prog_type_str (k->type))),
     scm_cons (SYM ("attach-type"),
               k->attach_type < 0 ? SCM_BOOL_F
               : kernel_name (libbpf_bpf_attach_type_str (k->attach_type))),
     scm_cons (SYM ("bpf-fn"), scm_from_bool (k->section != NULL)),
     scm_cons (SYM ("section"), str_or_false (k->section)),
     scm_cons (SYM ("section-prefix"), prefix),
     scm_cons (SYM ("target-in-section"),
               scm_from_bool (k->section && strstr (k->section, "%s"))),
     scm_cons (SYM ("context"), str_or_false (k->ctx)),
     scm_cons (SYM ("default-return"), scm_from_long (k->default_return)),
     scm_cons (SYM ("returns"), sym_or_false (k->returns)),
     scm_cons (SYM ("target"), str_or_false (k->target)),
     scm_cons (SYM ("attach"), sym_or_false (attach_fn_names[k->attach])),
     scm_cons (SYM ("context-class"),
               sym_or_false (gebpf_kind_class (k - gebpf_kinds))),
     scm_cons (SYM ("target-required"),
               scm_from_bool (k->flags & KF_NEEDS_TARGET)),
     scm_cons (SYM ("flags"), flag_list (k->flags, kind_flag_names)),
     scm_cons (SYM ("capabilities"), str_or_false (k->caps)),
     scm_cons (SYM ("fallbacks"), symbol_list (k->fallbacks)),
     scm_cons (SYM ("default-attach-type"), sym_or_false (k->default_attach)),
     scm_cons (SYM ("attach-option"), sym_or_false (k->attach_option)),
     scm_cons (SYM ("attach-types"), hook_list (k - gebpf_kinds)),
     scm_cons (SYM ("bpfman-type"), str_or_false (k->bpfman)),
     SCM_UNDEFINED);
}

SCM_DEFINE_STATIC (scm_bpf_kind_table, "%bpf-kind-table", 0, 0, 0, (),
                   "Return the program kinds as a list of alists, one per "
                   "kind in the table's order: @code{name}, "
                   "@code{prog-type}, @code{attach-type}, @code{bpf-fn} "
                   "(whether bpf-fn lowers it), @code{section}, "
                   "@code{section-prefix}, @code{target-in-section}, "
                   "@code{context}, @code{default-return}, @code{returns}, "
                   "@code{target} (what a target is, as error hints say "
                   "it), @code{attach} (the attach function: "
                   "@code{tracepoint}, @code{raw-tracepoint}, @code{trace}, "
                   "@code{kprobe}, @code{uprobe}, @code{usdt}, @code{xdp}, "
                   "@code{tc}, @code{cgroup}, @code{perf-event} or "
                   "@code{socket}), @code{context-class} (@code{packet}, "
                   "@code{socket} or @code{trace}), "
                   "@code{target-required}, @code{flags}, "
                   "@code{capabilities}, @code{fallbacks} (stand-ins "
                   "for a kernel that refuses the kind), "
                   "@code{default-attach-type}, @code{attach-option}, "
                   "@code{attach-types} (a cgroup kind's hooks) and "
                   "@code{bpfman-type}.")
{
  SCM l = SCM_EOL;
  for (int i = PK_NONE; i-- > 0;)
    l = scm_cons (kind_alist (&gebpf_kinds[i]), l);
  return l;
}

SCM_DEFINE_STATIC (scm_bpf_map_kind_table, "%bpf-map-kind-table", 0, 0, 0,
                   (),
                   "Return the map kinds as a list of alists, one per kind "
                   "in the table's order: @code{name}, @code{map-type} and "
                   "@code{flags}.")
{
  SCM l = SCM_EOL;
  for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++)
    l = scm_cons (scm_list_3 (scm_cons (SYM ("name"), SYM (e->name)),
                              scm_cons (SYM ("map-type"),
                                        kernel_name
                                        (libbpf_bpf_map_type_str
                                         (e->map_type))),
                              scm_cons (SYM ("flags"),
                                        flag_list (e->flags,
                                                   map_flag_names))),
                  l);
  return scm_reverse_x (l, SCM_EOL);
}

void
gebpf_init_kernel (void)
{
  size_t n = 0, i;
  for (i = 0; i < PK_NONE; i++)
    {
      gebpf_kind_syms[i].name = gebpf_kinds[i].name;
      gebpf_kind_syms[i].value = i;
      if (gebpf_kinds[i].section)
        {
          gebpf_prog_kinds[n].name = gebpf_kinds[i].name;
          gebpf_prog_kinds[n++].value = i;
        }
    }
  gebpf_kind_syms[PK_NONE].name = NULL;
  gebpf_prog_kinds[n].name = NULL;
  /* The short hook names first: an unknown name's hint lists them so.  */
  n = 0;
  for (int alias = 0; alias < 2; alias++)
    for (const struct gebpf_hook *h = gebpf_hooks; h->name; h++)
      if (h->alias == alias)
        {
          gebpf_hook_syms[n].name = h->name;
          gebpf_hook_syms[n++].value = h->attach_type;
        }
  gebpf_hook_syms[n].name = NULL;
  i = 0;
  for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++, i++)
    {
      gebpf_map_kind_syms[i].name = e->name;
      gebpf_map_kind_syms[i].value = i;
    }
  gebpf_map_kind_syms[i].name = NULL;
#ifndef SCM_MAGIC_SNARFER
#include "kinds.x"
#endif
  gebpf_init_tracefs ();
}
