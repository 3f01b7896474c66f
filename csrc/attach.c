/* attach.c --- every attach function: tracepoints, raw tracepoints,
   trampolines, kprobes, uprobes and USDT, XDP, tc, cgroups, perf events
   and sockets.

   Each takes a loaded <bpf-object> and a target and gives a <bpf-link>
   (link.c) owning what the kernel made; one attach kind per function, so
   a new kind is one function here and one row in the kernel model.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"
#include "object.h"

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif

/* Check that OBJ's program has one of the types an attach needs.  */
static void
need_type (struct gebpf_object *o, const char *subr, const char *what,
           enum bpf_prog_type t1, enum bpf_prog_type t2)
{
  if (o->type == t1 || o->type == t2)
    return;
  gebpf_error (gebpf_k_validation, subr, 0,
               "load a program of the right kind (#:kind), or use the "
               "attach procedure of its kind",
               "program %s is a %s program; attaching it as %s needs "
               "another kind", o->name, o->kind_name, what);
}

static char *
scm_string_arg (SCM s, const char *subr, int pos, const char *what)
{
  if (scm_is_symbol (s))
    s = scm_symbol_to_string (s);
  if (!scm_is_string (s))
    gebpf_error (gebpf_k_validation, subr, 0, "give it as a string",
                 "argument %d (%s) must be a string, not %s", pos, what,
                 gebpf_repr (s));
  char *c = scm_to_utf8_string (s);
  scm_dynwind_free (c);
  return c;
}

#define FUNC_NAME s_scm_bpf_attach_tracepoint
SCM_DEFINE_STATIC (scm_bpf_attach_tracepoint, "%bpf-attach-tracepoint", 3, 0,
                   0, (SCM obj, SCM target, SCM cookie),
                   "Attach the tracepoint program of @var{obj} to "
                   "@var{target}, @code{\"CATEGORY/NAME\"} or "
                   "@code{\"CATEGORY:NAME\"}, with @var{cookie} (an "
                   "unsigned 64-bit integer or @code{#f}) for "
                   "@code{bpf_get_attach_cookie}.  Return a "
                   "@code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "naming a missing tracepoint, "
                   "@code{ebpf-permission-error}, or "
                   "@code{ebpf-validation-error}.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a tracepoint", BPF_PROG_TYPE_TRACEPOINT,
             BPF_PROG_TYPE_TRACEPOINT);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "tracepoint");
  uint64_t ck = 0;
  if (scm_is_true (cookie))
    {
      if (!scm_is_unsigned_integer (cookie, 0, UINT64_MAX))
        gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                     "give the cookie as an unsigned 64-bit integer",
                     "bad #:cookie %s (between 0 and 2^64-1)",
                     gebpf_repr (cookie));
      ck = scm_to_uint64 (cookie);
    }
  char *cat = strdupa (t);
  char *sep = strpbrk (cat, "/:");
  if (!sep || sep == cat || !sep[1] || strpbrk (sep + 1, "/:"))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"CATEGORY/NAME\" or \"CATEGORY:NAME\", e.g. "
                 "\"syscalls/sys_enter_openat\"",
                 "bad tracepoint name %s", t);
  *sep = 0;
  const char *name = sep + 1;
  const char *dir = gebpf_tracefs (true);
  if (!dir)
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                 "mount it: mount -t tracefs tracefs /sys/kernel/tracing",
                 "tracefs is not mounted, so tracepoint %s cannot be found",
                 t);
  char path[512];
  snprintf (path, sizeof path, "%s/events/%s/%s", dir, cat, name);
  if (access (path, F_OK) != 0)
    {
      char fix[700];
      snprintf (fix, sizeof fix, "list the tracepoints with "
                "(bpf-list-probes \"%s:*\") or ls %s/events/%s", cat, dir,
                cat);
      gebpf_error (gebpf_k_attach, FUNC_NAME, 0, fix,
                   "no tracepoint %s:%s in this kernel", cat, name);
    }
  LIBBPF_OPTS (bpf_tracepoint_opts, topts, .bpf_cookie = ck);
  struct bpf_link *link = bpf_program__attach_tracepoint_opts (o->prog, cat,
                                                              name, &topts);
  if (!link)
    {
      char what[512];
      snprintf (what, sizeof what, "attaching %s to tracepoint %s:%s",
                o->name, cat, name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, errno,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[512];
  snprintf (desc, sizeof desc, "%s:%s", cat, name);
  SCM l = gebpf_libbpf_link (obj, o, "tracepoint", desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_raw_tracepoint
SCM_DEFINE_STATIC (scm_bpf_attach_raw_tracepoint, "%bpf-attach-raw-tracepoint",
                   2, 0, 0,
                   (SCM obj, SCM target),
                   "Attach the raw-tracepoint program of @var{obj} to the "
                   "raw tracepoint @var{target} (e.g. @code{\"sys_enter\"}; "
                   "a @code{\"CATEGORY:NAME\"} spelling keeps NAME).  "
                   "Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing tracepoint.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a raw tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT,
             BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "raw tracepoint");
  const char *sep = strrchr (t, ':');
  if (!sep)
    sep = strrchr (t, '/');
  const char *name = sep ? sep + 1 : t;
  struct bpf_link *link = bpf_program__attach_raw_tracepoint (o->prog, name);
  if (!link)
    {
      int err = errno;
      if (err == ENOENT)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "list the tracepoints with bpf-list-probes; a raw "
                     "tracepoint takes the bare name, e.g. \"sys_enter\"",
                     "no raw tracepoint %s in this kernel", name);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to raw tracepoint %s",
                o->name, name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  SCM l = gebpf_libbpf_link (obj, o, "raw-tracepoint", name, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_trace
SCM_DEFINE_STATIC (scm_bpf_attach_trace, "%bpf-attach-trace", 1, 0, 0,
                   (SCM obj),
                   "Attach the tp-btf, fentry, fexit, fmod-ret or lsm "
                   "program of @var{obj} to the target fixed at load "
                   "(its SEC() or @code{#:target}).  Return a "
                   "@code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "when the kernel refuses.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a BTF-typed tracing program",
             BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_LSM);
  struct bpf_link *link = o->type == BPF_PROG_TYPE_LSM
    ? bpf_program__attach_lsm (o->prog) : bpf_program__attach_trace (o->prog);
  if (!link)
    {
      int err = errno;
      if (o->kind && (o->kind->flags & KF_TRAMPOLINE)
          && (err == EPERM || err == EOPNOTSUPP || err == ENOTSUPP_ERRNO))
        {
          /* The kind's stand-ins (kernel/kinds.c) first.  */
          char hint[256], fix[512];
          gebpf_kind_fallback_hint (o->kind - gebpf_kinds, hint, sizeof hint);
          snprintf (fix, sizeof fix, "%s%sattach to the same event with a "
                    "tracepoint, raw tracepoint or tp-btf program", hint,
                    *hint ? "; or " : "");
          gebpf_error (gebpf_k_attach, FUNC_NAME, err, fix,
                       "this kernel refused to attach the %s program %s "
                       "(BPF trampolines are not allowed here)",
                       o->kind_name, o->name);
        }
      char what[512];
      snprintf (what, sizeof what, "attaching %s program %s to %s",
                o->kind_name, o->name, o->target ? o->target : "its target");
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  return gebpf_libbpf_link (obj, o, o->kind_name,
                      o->target ? o->target : o->section, link);
}
#undef FUNC_NAME

static bool
kernel_has_kprobes (void)
{
  if (access ("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0)
    return true;
  return gebpf_tracefs_has ("kprobe_events", true);
}

static int
pid_arg (SCM pid, const char *subr)
{
  if (scm_is_false (pid))
    return -1;
  if (!scm_is_signed_integer (pid, 1, INT32_MAX))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give #:pid as a process id, or #f for every process",
                 "bad #:pid %s (between 1 and 2^31-1)", gebpf_repr (pid));
  return scm_to_int (pid);
}

static uint64_t
cookie_arg (SCM cookie, const char *subr)
{
  if (SCM_UNBNDP (cookie) || scm_is_false (cookie))
    return 0;
  if (!scm_is_unsigned_integer (cookie, 0, UINT64_MAX))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give the cookie as an integer from 0 to 2^64-1",
                 "bad cookie %s", gebpf_repr (cookie));
  return scm_to_uint64 (cookie);
}

#define FUNC_NAME s_scm_bpf_attach_kprobe
SCM_DEFINE_STATIC (scm_bpf_attach_kprobe, "%bpf-attach-kprobe", 3, 1, 0,
                   (SCM obj, SCM function, SCM retprobe, SCM cookie),
                   "Attach the kprobe program of @var{obj} to kernel "
                   "function @var{function}, at its return when "
                   "@var{retprobe} is true, with @var{cookie} for "
                   "@code{bpf_get_attach_cookie}.  Return a "
                   "@code{<bpf-link>}.  "
                   "Raises @code{ebpf-attach-error} when the kernel has no "
                   "kprobes or no such function.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a kprobe", BPF_PROG_TYPE_KPROBE,
             BPF_PROG_TYPE_KPROBE);
  scm_dynwind_begin (0);
  char *fn = scm_string_arg (function, FUNC_NAME, 2, "kernel function");
  bool ret = scm_is_true (retprobe);
  if (!kernel_has_kprobes ())
    {
      /* The kind's stand-ins (kernel/kinds.c) first.  */
      char hint[256], fix[512];
      gebpf_kind_fallback_hint (o->kind ? o->kind - gebpf_kinds : PK_NONE,
                                hint, sizeof hint);
      snprintf (fix, sizeof fix, "%s%strace the same events with a "
                "tracepoint (\"syscalls/sys_enter_openat\"), a raw "
                "tracepoint or tp-btf; bpf-list-probes lists them", hint,
                *hint ? "; or " : "");
      gebpf_error (gebpf_k_attach, FUNC_NAME, 0, fix,
                   "this kernel has no kprobes (no kprobe PMU, no "
                   "kprobe_events), so %s cannot be attached to %s",
                   o->name, fn);
    }
  LIBBPF_OPTS (bpf_kprobe_opts, ko, .retprobe = ret,
               .bpf_cookie = cookie_arg (cookie, FUNC_NAME));
  struct bpf_link *link = bpf_program__attach_kprobe_opts (o->prog, fn, &ko);
  if (!link)
    {
      int err = errno;
      if (err == ENOENT || err == EINVAL)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "check the name in /proc/kallsyms; inlined and "
                     "notrace functions cannot be probed",
                     "cannot put a %s on kernel function %s",
                     ret ? "kretprobe" : "kprobe", fn);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to %s", o->name, fn);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  SCM l = gebpf_libbpf_link (obj, o, ret ? "kretprobe" : "kprobe", fn, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_uprobe_resolve
SCM_DEFINE_STATIC (scm_bpf_uprobe_resolve, "%bpf-uprobe-resolve", 1, 0, 0,
                   (SCM target),
                   "Return @code{(PATH . OFFSET)} where the uprobe target "
                   "@var{target}, @code{\"LIB:SYMBOL\"}, lands: the file "
                   "of LIB (a path, an executable in PATH, or a library "
                   "of the dynamic linker's cache) and the file offset of "
                   "SYMBOL (@code{SYM}, @code{SYM@@VERSION} or "
                   "@code{0xOFFSET}; of several versions the default "
                   "one).  Raises @code{ebpf-attach-error} naming a "
                   "missing binary, symbol or version.")
{
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 1, "uprobe target");
  char *colon = strrchr (t, ':');
  if (!colon)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:SYMBOL\", e.g. \"libc:malloc\" or "
                 "\"/usr/bin/bash:readline\"",
                 "bad uprobe target %s", t);
  *colon = 0;
  const char *bin = gebpf_uprobe_binary (t, FUNC_NAME, NULL);
  size_t off = gebpf_uprobe_offset (bin, colon + 1, FUNC_NAME, NULL);
  SCM r = scm_cons (scm_from_utf8_string (bin), scm_from_size_t (off));
  scm_dynwind_end ();
  return r;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_uprobe_symbols
SCM_DEFINE_STATIC (scm_bpf_uprobe_symbols, "%bpf-uprobe-symbols", 1, 0, 0,
                   (SCM target),
                   "Return the names of the functions that the uprobe "
                   "target glob @var{target}, @code{\"LIB:GLOB\"}, "
                   "matches (GLOB with @code{*}, @code{?} and "
                   "@code{[...]}), sorted, each once.  Raises "
                   "@code{ebpf-attach-error} for a missing binary.")
{
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 1, "uprobe target");
  char *colon = strrchr (t, ':');
  if (!colon)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:GLOB\", e.g. \"libc:pthread_mutex_*\"",
                 "bad uprobe target %s", t);
  *colon = 0;
  const char *bin = gebpf_uprobe_binary (t, FUNC_NAME, NULL);
  SCM r = gebpf_uprobe_symbols (bin, colon + 1, FUNC_NAME, NULL);
  scm_dynwind_end ();
  return r;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_uprobe
SCM_DEFINE_STATIC (scm_bpf_attach_uprobe, "%bpf-attach-uprobe", 4, 1, 0,
                   (SCM obj, SCM target, SCM pid, SCM retprobe, SCM cookie),
                   "Attach the uprobe program of @var{obj} to "
                   "@var{target}, @code{\"LIB:SYMBOL\"} (LIB a path, an "
                   "executable in PATH or a library of the dynamic "
                   "linker's cache; SYMBOL a function, "
                   "@code{SYM@@VERSION} or @code{0xOFFSET}), in process "
                   "@var{pid} (@code{#f}: every process), at the "
                   "function's return when @var{retprobe} is true, with "
                   "@var{cookie} for @code{bpf_get_attach_cookie}.  Return "
                   "a @code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "naming a missing binary, symbol or version.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a uprobe", BPF_PROG_TYPE_KPROBE,
             BPF_PROG_TYPE_KPROBE);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "uprobe target");
  bool ret = scm_is_true (retprobe);
  int p = pid_arg (pid, FUNC_NAME);
  uint64_t ck = cookie_arg (cookie, FUNC_NAME);
  char *lib = strdupa (t);
  char *colon = strrchr (lib, ':');
  if (!colon || colon == lib || !colon[1])
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:SYMBOL\", e.g. \"libc:malloc\" or "
                 "\"/usr/bin/bash:readline\"",
                 "bad uprobe target %s", t);
  *colon = 0;
  const char *sym = colon + 1;
  /* Resolved here, not by libbpf: library names, versions, and errors
     that say what is missing.  */
  char who[300];
  snprintf (who, sizeof who, "attaching %s", o->name);
  const char *bin = gebpf_uprobe_binary (lib, FUNC_NAME, who);
  size_t off = gebpf_uprobe_offset (bin, sym, FUNC_NAME, who);
  LIBBPF_OPTS (bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = ck);
  gebpf_libbpf_log_take ();
  struct bpf_link *link = bpf_program__attach_uprobe_opts
    (o->prog, p, bin, off, &uo);
  if (!link)
    {
      int err = errno;
      const char *log = gebpf_libbpf_log_take ();
      if (err == ESRCH)
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                         "give the pid of a running process",
                         "no process %d for %s on %s", p,
                         ret ? "uretprobe" : "uprobe", t);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to %s (%s at 0x%zx)",
                o->name, t, bin, off);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[600];
  if (p >= 0)
    snprintf (desc, sizeof desc, "%s pid %d", t, p);
  else
    snprintf (desc, sizeof desc, "%s", t);
  SCM l = gebpf_libbpf_link (obj, o, ret ? "uretprobe" : "uprobe", desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_usdt
SCM_DEFINE_STATIC (scm_bpf_attach_usdt, "%bpf-attach-usdt", 3, 1, 0,
                   (SCM obj, SCM target, SCM pid, SCM cookie),
                   "Attach the usdt program of @var{obj} to the USDT "
                   "probe @var{target}, @code{\"LIB:PROVIDER:NAME\"} "
                   "(LIB as for uprobes), in process @var{pid} (@code{#f}: "
                   "every process), with @var{cookie} for "
                   "@code{bpf_usdt_cookie}.  A probe with a semaphore is "
                   "enabled by it.  Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing binary or "
                   "probe.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a usdt", BPF_PROG_TYPE_KPROBE,
             BPF_PROG_TYPE_KPROBE);
  scm_dynwind_begin (0);
  char *t = scm_string_arg (target, FUNC_NAME, 2, "usdt target");
  int p = pid_arg (pid, FUNC_NAME);
  uint64_t ck = cookie_arg (cookie, FUNC_NAME);
  char *lib = strdupa (t);
  char *name = strrchr (lib, ':');
  char *provider = NULL;
  if (name && name != lib)
    {
      *name++ = 0;
      provider = strrchr (lib, ':');
    }
  if (!provider || provider == lib || !provider[1] || !*name)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write it as \"LIB:PROVIDER:NAME\", e.g. "
                 "\"python3:python:function__entry\"; list a binary's "
                 "probes with readelf -n",
                 "bad usdt target %s", t);
  *provider++ = 0;
  char who[300];
  snprintf (who, sizeof who, "attaching %s", o->name);
  const char *bin = gebpf_uprobe_binary (lib, FUNC_NAME, who);
  LIBBPF_OPTS (bpf_usdt_opts, uo, .usdt_cookie = ck);
  gebpf_libbpf_log_take ();
  struct bpf_link *link = bpf_program__attach_usdt (o->prog, p, bin, provider,
                                                    name, &uo);
  if (!link)
    {
      int err = errno;
      const char *log = gebpf_libbpf_log_take ();
      if (err == ENOENT)
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                         "list the binary's probes with readelf -n (notes "
                         "stapsdt); a program's probes may be in its "
                         "shared library (e.g. libpython)",
                         "%s has no USDT probe %s:%s", bin, provider, name);
      if (err == ESRCH)
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                         "give the pid of a running process",
                         "no process %d for usdt %s", p, t);
      char what[512];
      snprintf (what, sizeof what, "attaching %s to usdt %s", o->name, t);
      gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, log,
                       "see libbpf's log above",
                       "%s failed", what);
    }
  char desc[600];
  if (p >= 0)
    snprintf (desc, sizeof desc, "%s pid %d", t, p);
  else
    snprintf (desc, sizeof desc, "%s", t);
  SCM l = gebpf_libbpf_link (obj, o, "usdt", desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

static int
iface_index (const char *name, const char *subr)
{
  unsigned idx = if_nametoindex (name);
  if (idx == 0)
    gebpf_error (gebpf_k_attach, subr, 0,
                 "check the name with `ip link' (interfaces belong to a "
                 "network namespace; this process sees its own)",
                 "no network interface named %s", name);
  return (int) idx;
}

static const struct gebpf_sym xdp_modes[] = {
  {"auto", 0}, {"native", XDP_FLAGS_DRV_MODE},
  {"generic", XDP_FLAGS_SKB_MODE}, {"offload", XDP_FLAGS_HW_MODE},
  {NULL, 0}
};

#define FUNC_NAME s_scm_bpf_attach_xdp
SCM_DEFINE_STATIC (scm_bpf_attach_xdp, "%bpf-attach-xdp", 3, 0, 0,
                   (SCM obj, SCM iface, SCM mode),
                   "Attach the XDP program of @var{obj} to network "
                   "interface @var{iface} through a kernel link, in "
                   "@var{mode}: @code{auto} (native, else generic), "
                   "@code{native}, @code{generic} or @code{offload}.  "
                   "Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing interface, "
                   "or when the interface already has an XDP program or "
                   "its driver lacks the mode.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "XDP", BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_XDP);
  scm_dynwind_begin (0);
  char *name = scm_string_arg (iface, FUNC_NAME, 2, "interface");
  long m = gebpf_sym_lookup (xdp_modes, mode, FUNC_NAME, "XDP mode");
  int ifindex = iface_index (name, FUNC_NAME);
  long tries[2] = { m, -1 };
  if (m == 0)
    {
      tries[0] = XDP_FLAGS_DRV_MODE;
      tries[1] = XDP_FLAGS_SKB_MODE;
    }
  int fd = -1, err = 0;
  long used = 0;
  for (int i = 0; i < 2 && tries[i] >= 0; i++)
    {
      LIBBPF_OPTS (bpf_link_create_opts, lo, .flags = (__u32) tries[i]);
      fd = bpf_link_create (o->prog_fd, ifindex, BPF_XDP, &lo);
      if (fd >= 0)
        {
          used = tries[i];
          break;
        }
      err = errno;
      if (err == EBUSY || err == EEXIST || err == EPERM || err == EACCES)
        break;                  /* generic would fail the same way */
    }
  if (fd < 0)
    {
      if (err == EBUSY || err == EEXIST)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "detach the other program first (ip link set dev "
                     "IFACE xdp off, or its owner's link)",
                     "interface %s already has an XDP program", name);
      if (err == EOPNOTSUPP || err == ENOTSUPP_ERRNO || err == EINVAL)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "use #:mode 'generic (works on every interface) or "
                     "'auto",
                     "interface %s cannot run XDP in %s mode", name,
                     gebpf_sym_name (xdp_modes, m));
      char what[300];
      snprintf (what, sizeof what, "attaching XDP program %s to %s",
                o->name, name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[300];
  snprintf (desc, sizeof desc, "%s %s", name,
            gebpf_sym_name (xdp_modes, used));
  struct part p = { .kind = PART_FD, .fd = fd };
  SCM l = gebpf_make_link1 (obj, o, "xdp", desc, p);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

static const struct gebpf_sym tc_dirs[] = {
  {"ingress", BPF_TC_INGRESS}, {"egress", BPF_TC_EGRESS}, {NULL, 0}
};

#define FUNC_NAME s_scm_bpf_attach_tc
SCM_DEFINE_STATIC (scm_bpf_attach_tc, "%bpf-attach-tc", 3, 0, 0,
                   (SCM obj, SCM iface, SCM direction),
                   "Attach the tc program of @var{obj} to @var{iface} at "
                   "@var{direction} (@code{ingress} or @code{egress}) as a "
                   "direct-action filter of the clsact qdisc, creating the "
                   "qdisc if needed (and removing it at detach if it was "
                   "created here).  Return a @code{<bpf-link>}.  Raises "
                   "@code{ebpf-attach-error} naming a missing interface.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "tc", BPF_PROG_TYPE_SCHED_CLS,
             BPF_PROG_TYPE_SCHED_ACT);
  scm_dynwind_begin (0);
  char *name = scm_string_arg (iface, FUNC_NAME, 2, "interface");
  long dir = gebpf_sym_lookup (tc_dirs, direction, FUNC_NAME,
                               "tc direction");
  int ifindex = iface_index (name, FUNC_NAME);
  LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = ifindex,
               .attach_point = (enum bpf_tc_attach_point) dir);
  int r = bpf_tc_hook_create (&hook);
  bool created = r == 0;
  if (r < 0 && r != -EEXIST)
    {
      char what[300];
      snprintf (what, sizeof what, "creating the clsact qdisc of %s", name);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, -r,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  LIBBPF_OPTS (bpf_tc_opts, to, .prog_fd = o->prog_fd);
  r = bpf_tc_attach (&hook, &to);
  if (r < 0)
    {
      if (created)
        {
          hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
          bpf_tc_hook_destroy (&hook);
        }
      char what[300];
      snprintf (what, sizeof what, "attaching tc program %s to %s %s",
                o->name, name, gebpf_sym_name (tc_dirs, dir));
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, -r,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  struct part p = {
    .kind = PART_TC, .fd = -1, .ifindex = ifindex, .handle = to.handle,
    .priority = to.priority, .attach_point = (int) dir,
    .hook_created = created
  };
  char desc[300];
  snprintf (desc, sizeof desc, "%s %s", name, gebpf_sym_name (tc_dirs, dir));
  SCM l = gebpf_make_link1 (obj, o, "tc", desc, p);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_cgroup
SCM_DEFINE_STATIC (scm_bpf_attach_cgroup, "%bpf-attach-cgroup", 2, 0, 0,
                   (SCM obj, SCM path),
                   "Attach the cgroup program of @var{obj} to the cgroup2 "
                   "directory @var{path}, at the hook chosen at load "
                   "(@code{#:attach-type} or SEC()).  Return a "
                   "@code{<bpf-link>}.  Raises @code{ebpf-attach-error} "
                   "naming a missing or non-cgroup2 path.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  if (!(o->type == BPF_PROG_TYPE_CGROUP_SKB
        || o->type == BPF_PROG_TYPE_CGROUP_SOCK
        || o->type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
        || o->type == BPF_PROG_TYPE_CGROUP_DEVICE
        || o->type == BPF_PROG_TYPE_CGROUP_SYSCTL
        || o->type == BPF_PROG_TYPE_CGROUP_SOCKOPT
        || o->type == BPF_PROG_TYPE_SOCK_OPS))
    need_type (o, FUNC_NAME, "a cgroup program", BPF_PROG_TYPE_CGROUP_SKB,
               BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
  scm_dynwind_begin (0);
  char *p = scm_string_arg (path, FUNC_NAME, 2, "cgroup path");
  int fd = open (p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int err = errno;
      gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                   "create it (mkdir under the cgroup2 mount, e.g. "
                   "/sys/fs/cgroup/NAME or /sys/fs/cgroup/unified/NAME) or "
                   "check the path",
                   "no cgroup directory %s", p);
    }
  struct statfs sf;
  if (fstatfs (fd, &sf) == 0 && sf.f_type != CGROUP2_SUPER_MAGIC)
    {
      close (fd);
      gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                   "give a directory of the cgroup2 hierarchy (mount -t "
                   "cgroup2 none DIR if there is none)",
                   "%s is not a cgroup2 directory", p);
    }
  struct bpf_link *link = bpf_program__attach_cgroup (o->prog, fd);
  int err = errno;
  close (fd);
  if (!link)
    {
      char what[600];
      snprintf (what, sizeof what, "attaching %s program %s to cgroup %s",
                o->kind_name, o->name, p);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  const char *at = gebpf_attach_type_name (o->attach_type);
  char desc[600];
  snprintf (desc, sizeof desc, "%s %s", p, at ? at : "");
  SCM l = gebpf_libbpf_link (obj, o, o->kind_name, desc, link);
  scm_dynwind_end ();
  return l;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_perf_event
SCM_DEFINE_STATIC (scm_bpf_attach_perf_event, "%bpf-attach-perf-event", 2,
                   3, 0, (SCM obj, SCM frequency, SCM type, SCM config,
                          SCM event),
                   "Attach the perf-event program of @var{obj} to a CPU "
                   "clock sampled @var{frequency} times a second on every "
                   "CPU (one kernel link per CPU, in one "
                   "@code{<bpf-link>}).  With @var{type} (0 hardware, 1 "
                   "software) and @var{config} (the event's number), "
                   "sample that event every @var{frequency} occurrences "
                   "instead; @var{event} names it in messages.  Raises "
                   "@code{ebpf-attach-error} when the frequency or event "
                   "is refused, @code{ebpf-permission-error} without "
                   "CAP_PERFMON.")
{
  int by_period = !SCM_UNBNDP (type) && scm_is_true (type);
  uint32_t ev_type = by_period ? scm_to_uint32 (type) : PERF_TYPE_SOFTWARE;
  uint64_t ev_config = by_period ? scm_to_uint64 (config)
    : PERF_COUNT_SW_CPU_CLOCK;
  char *ev_name = (by_period && scm_is_string (event))
    ? scm_to_locale_string (event) : NULL;
  char ev_buf[64];
  snprintf (ev_buf, sizeof ev_buf, "%s", ev_name ? ev_name : "cpu-clock");
  free (ev_name);
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a perf event", BPF_PROG_TYPE_PERF_EVENT,
             BPF_PROG_TYPE_PERF_EVENT);
  if (!scm_is_unsigned_integer (frequency, 1, UINT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give #:frequency in Hz, e.g. 99",
                 "bad #:frequency %s (between 1 and 2^32-1 Hz)",
                 gebpf_repr (frequency));
  uint64_t hz = scm_to_uint64 (frequency);
  int ncpu = gebpf_nr_cpus ();
  struct part *parts = calloc ((size_t) (ncpu > 0 ? ncpu : 1), sizeof *parts);
  size_t n = 0;
  int err = 0, bad_cpu = -1;
  for (int cpu = 0; cpu < ncpu; cpu++)
    {
      struct perf_event_attr attr;
      memset (&attr, 0, sizeof attr);
      attr.type = ev_type;
      attr.size = sizeof attr;
      attr.config = ev_config;
      if (by_period)
        attr.sample_period = hz;
      else
        {
          attr.sample_freq = hz;
          attr.freq = 1;
        }
      int pfd = (int) syscall (__NR_perf_event_open, &attr, -1, cpu, -1,
                               PERF_FLAG_FD_CLOEXEC);
      if (pfd < 0)
        {
          if (errno == ENODEV || errno == ENXIO)
            continue;           /* an offline CPU */
          err = errno;
          bad_cpu = cpu;
          break;
        }
      struct bpf_link *link = bpf_program__attach_perf_event (o->prog, pfd);
      if (!link)
        {
          err = errno;
          bad_cpu = cpu;
          close (pfd);
          break;
        }
      parts[n].kind = PART_LIBBPF;
      parts[n].link = link;
      parts[n].fd = -1;
      n++;
    }
  if (err || n == 0)
    {
      for (size_t i = 0; i < n; i++)
        gebpf_part_destroy (&parts[i]);
      free (parts);
      /* No PMU (a VM) or an event this kernel lacks: the kernel says
         ENOENT or EOPNOTSUPP; name the event, not just the errno.  */
      if (by_period && (err == ENOENT || err == EOPNOTSUPP
                        || err == ENODEV || n == 0))
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     ev_type == PERF_TYPE_HARDWARE
                     ? "hardware events need a PMU (absent in most VMs); "
                       "use a software event such as software:cpu-clock"
                     : "use another software event, e.g. software:cpu-clock",
                     "the kernel has no %s event %s here",
                     ev_type == PERF_TYPE_HARDWARE ? "hardware" : "software",
                     ev_buf);
      if (err == EINVAL && !by_period)
        gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                     "lower #:frequency below "
                     "/proc/sys/kernel/perf_event_max_sample_rate",
                     "the kernel refused sampling at %llu Hz",
                     (unsigned long long) hz);
      char what[300];
      snprintf (what, sizeof what, "attaching perf-event program %s on "
                "CPU %d", o->name, bad_cpu);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err ? err : ENODEV,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  char desc[160];
  if (by_period)
    snprintf (desc, sizeof desc, "%s every %llu on %zu CPU%s", ev_buf,
              (unsigned long long) hz, n, n == 1 ? "" : "s");
  else
    snprintf (desc, sizeof desc, "%llu Hz on %zu CPU%s",
              (unsigned long long) hz, n, n == 1 ? "" : "s");
  return gebpf_make_link (obj, o, "perf-event", desc, parts, n);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_attach_socket
SCM_DEFINE_STATIC (scm_bpf_attach_socket, "%bpf-attach-socket", 2, 0, 0,
                   (SCM obj, SCM fd),
                   "Attach the socket-filter program of @var{obj} to the "
                   "socket whose file descriptor is @var{fd} "
                   "(SO_ATTACH_BPF).  Return a @code{<bpf-link>}; "
                   "destroying it detaches the filter if the socket is "
                   "still open.  Raises @code{ebpf-attach-error} if "
                   "@var{fd} is not a socket.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  need_type (o, FUNC_NAME, "a socket filter", BPF_PROG_TYPE_SOCKET_FILTER,
             BPF_PROG_TYPE_SOCKET_FILTER);
  if (!scm_is_signed_integer (fd, 0, INT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass a socket's port or file descriptor",
                 "argument 2 is not a file descriptor (between 0 and "
                 "2^31-1): %s", gebpf_repr (fd));
  int s = scm_to_int (fd);
  struct stat st;
  if (fstat (s, &st) < 0 || !S_ISSOCK (st.st_mode))
    gebpf_error (gebpf_k_attach, FUNC_NAME, errno ? errno : ENOTSOCK,
                 "pass an open socket",
                 "file descriptor %d is not a socket", s);
  if (setsockopt (s, SOL_SOCKET, SO_ATTACH_BPF, &o->prog_fd,
                  sizeof o->prog_fd) < 0)
    {
      char what[300];
      snprintf (what, sizeof what, "attaching socket filter %s to fd %d",
                o->name, s);
      gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, errno,
                           scm_gc_strdup (what, "gebpf"),
                           "see the errno above");
    }
  struct part p = { .kind = PART_SOCKET, .fd = s, .dev = st.st_dev,
    .ino = st.st_ino };
  char desc[64];
  snprintf (desc, sizeof desc, "socket fd %d", s);
  return gebpf_make_link1 (obj, o, "socket-filter", desc, p);
}
#undef FUNC_NAME


void
gebpf_init_attach (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "attach.x"
#endif
}
