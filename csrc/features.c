/* features.c --- (bpf-features): what this kernel, this process and this
   tool chain can do.  Probed once and cached (STYLE: feature probes run
   once); every probe is a real syscall or file check, never a guess from
   the kernel version, except the list of bpf_link kinds, which the kernel
   offers no way to enumerate.  Program and map kinds are probed with
   libbpf's probes over the kernel model's tables (kernel/kinds.c).  And
   the list of the functions the kernel's BTF describes: the attach
   targets this kernel offers trampolines and LSM programs.  tracefs,
   vmlinux BTF and the capabilities are read through the kernel model
   (kernel/kernel.h).  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "kernel/kernel.h"

static SCM cached = SCM_BOOL_F;

static bool
fs_is (const char *path, long magic)
{
  struct statfs st;
  return statfs (path, &st) == 0 && st.f_type == magic;
}

static bool
probe_ringbuf (void)
{
  return libbpf_probe_bpf_map_type (BPF_MAP_TYPE_RINGBUF, NULL) == 1;
}

/* The program kinds whose BPF program type this kernel loads (kinds
   sharing a type share the answer).  */
static SCM
program_kinds (void)
{
  SCM l = SCM_EOL;
  for (int i = PK_NONE; i-- > 0;)
    if (libbpf_probe_bpf_prog_type (gebpf_kinds[i].type, NULL) == 1)
      l = scm_cons (scm_from_utf8_symbol (gebpf_kinds[i].name), l);
  return l;
}

/* The map kinds this kernel creates.  */
static SCM
map_kinds (void)
{
  SCM l = SCM_EOL;
  for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++)
    if (libbpf_probe_bpf_map_type (e->map_type, NULL) == 1)
      l = scm_cons (scm_from_utf8_symbol (e->name), l);
  return scm_reverse_x (l, SCM_EOL);
}

/* Load a trivial fentry program on a kernel function: this is what fails
   (EPERM) on kernels that refuse trampolines.  */
static int
probe_fentry (void)
{
  const struct btf *vm = gebpf_vmlinux_btf ();
  if (!vm)
    return -ENOENT;
  int id = btf__find_by_name_kind (vm, "do_nanosleep", BTF_KIND_FUNC);
  if (id < 0)
    id = btf__find_by_name_kind (vm, "vfs_read", BTF_KIND_FUNC);
  if (id < 0)
    return -ENOENT;
  struct bpf_insn insns[] = {
    { .code = 0xb7, .dst_reg = 0, .imm = 0 },   /* r0 = 0 */
    { .code = 0x95 },                           /* exit */
  };
  LIBBPF_OPTS (bpf_prog_load_opts, opts,
               .expected_attach_type = BPF_TRACE_FENTRY,
               .attach_btf_id = id);
  int fd = bpf_prog_load (BPF_PROG_TYPE_TRACING, "probe_fentry", "GPL",
                          insns, 2, &opts);
  if (fd < 0)
    return -errno;
  close (fd);
  return 0;
}

static bool
kernel_at_least (int maj, int min)
{
  struct utsname u;
  int a = 0, b = 0;
  if (uname (&u) < 0 || sscanf (u.release, "%d.%d", &a, &b) != 2)
    return false;
  return a > maj || (a == maj && b >= min);
}

static SCM
clang_info (void)
{
  const char *clang = getenv ("EBPF_CLANG");
  if (!clang || !*clang)
    clang = GEBPF_DEFAULT_CLANG;
  char cmd[512], line[256] = "";
  snprintf (cmd, sizeof cmd, "'%s' --version 2>/dev/null", clang);
  FILE *p = strchr (clang, '\'') ? NULL : popen (cmd, "re");
  if (p)
    {
      if (!fgets (line, sizeof line, p))
        line[0] = 0;
      pclose (p);
    }
  line[strcspn (line, "\n")] = 0;
  return scm_list_2 (scm_cons (scm_from_utf8_symbol ("clang"),
                               scm_from_utf8_string (clang)),
                     scm_cons (scm_from_utf8_symbol ("clang-version"),
                               line[0] ? scm_from_utf8_string (line)
                               : SCM_BOOL_F));
}

#define SYM(s) scm_from_utf8_symbol (s)

static SCM
compute (void)
{
  struct utsname u;
  uname (&u);
  uint64_t caps = gebpf_effective_caps ();
  int fentry = probe_fentry ();
  SCM links = SCM_EOL;
  static const struct { const char *name; int maj, min; } lk[] = {
    {"raw-tracepoint", 5, 7}, {"tracing", 5, 7}, {"cgroup", 5, 7},
    {"iter", 5, 8}, {"netns", 5, 8}, {"xdp", 5, 9}, {"perf-event", 5, 15},
    {"kprobe-multi", 5, 18}, {"struct-ops", 6, 4}, {"netfilter", 6, 4},
    {"tcx", 6, 6}, {"uprobe-multi", 6, 6}, {"netkit", 6, 7},
  };
  for (size_t i = sizeof lk / sizeof lk[0]; i-- > 0;)
    if (kernel_at_least (lk[i].maj, lk[i].min))
      links = scm_cons (SYM (lk[i].name), links);
  SCM capl = SCM_EOL;
  static const struct { const char *name; int bit; } cp[] = {
    {"cap-bpf", 39}, {"cap-net-admin", 12}, {"cap-perfmon", 38},
    {"cap-sys-admin", 21},
  };
  for (size_t i = sizeof cp / sizeof cp[0]; i-- > 0;)
    capl = scm_acons (SYM (cp[i].name),
                      scm_from_bool (caps & ((uint64_t) 1 << cp[i].bit)),
                      capl);
  const char *tf = gebpf_tracefs (false);
  bool kprobes = gebpf_tracefs_has ("kprobe_events", false);
  SCM al = scm_list_n
    (scm_cons (SYM ("kernel-release"), scm_from_utf8_string (u.release)),
     scm_cons (SYM ("btf"),
               scm_from_bool (access (GEBPF_VMLINUX_BTF, R_OK) == 0)),
     scm_cons (SYM ("ringbuf"), scm_from_bool (probe_ringbuf ())),
     scm_cons (SYM ("fentry"), scm_from_bool (fentry == 0)),
     scm_cons (SYM ("fentry-error"),
               fentry && gebpf_errno_name (fentry)
               ? SYM (gebpf_errno_name (fentry)) : SCM_BOOL_F),
     scm_cons (SYM ("kprobes"), scm_from_bool (kprobes)),
     scm_cons (SYM ("link-kinds"), links),
     scm_cons (SYM ("program-kinds"), program_kinds ()),
     scm_cons (SYM ("map-kinds"), map_kinds ()),
     scm_cons (SYM ("bpffs-mounted"),
               scm_from_bool (fs_is ("/sys/fs/bpf", BPF_FS_MAGIC))),
     scm_cons (SYM ("tracefs-mounted"), scm_from_bool (tf != NULL)),
     scm_cons (SYM ("capabilities"), capl),
     scm_cons (SYM ("libbpf-version"),
               scm_from_utf8_string (libbpf_version_string ())),
     SCM_UNDEFINED);
  return scm_append (scm_list_3 (al, capl, clang_info ()));
}

#define FUNC_NAME s_scm_bpf_features
SCM_DEFINE_STATIC (scm_bpf_features, "%bpf-features", 1, 0, 0, (SCM refresh),
            "Return the feature alist, probing on the first call or when "
            "@var{refresh} is true.")
{
  if (scm_is_false (cached) || scm_is_true (refresh))
    {
      SCM v = compute ();
      if (scm_is_true (cached))
        scm_gc_unprotect_object (cached);
      cached = scm_gc_protect_object (v);
    }
  return cached;
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* The functions of the running kernel's BTF: what fentry, fexit and
   LSM programs may attach to.  */

static int
str_cmp (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

#define FUNC_NAME s_scm_bpf_btf_functions
SCM_DEFINE_STATIC (scm_bpf_btf_functions, "%bpf-btf-functions", 0, 0, 0, (),
                   "Return the names of the functions the running kernel's "
                   "BTF (/sys/kernel/btf/vmlinux) describes, sorted: the "
                   "targets fentry and fexit programs may name, and, as "
                   "@code{bpf_lsm_HOOK}, the LSM hooks.  Raises "
                   "@code{ebpf-error} when the kernel has no BTF.")
{
  const struct btf *vm = gebpf_vmlinux_btf ();
  if (!vm)
    gebpf_error (gebpf_k_error, FUNC_NAME, errno,
                 "use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
                 "cannot read the kernel's BTF");
  __u32 n = btf__type_cnt (vm);
  const char **names = malloc (n * sizeof *names);
  if (!names)
    gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                 "listing the kernel's BTF functions");
  size_t k = 0;
  for (__u32 id = 1; id < n; id++)
    {
      const struct btf_type *t = btf__type_by_id (vm, id);
      if (!t || !btf_is_func (t))
        continue;
      const char *name = btf__name_by_offset (vm, t->name_off);
      if (name && *name)
        names[k++] = name;
    }
  qsort (names, k, sizeof *names, str_cmp);
  SCM out = SCM_EOL;
  for (size_t i = k; i-- > 0;)
    if (i + 1 == k || strcmp (names[i], names[i + 1]) != 0)
      out = scm_cons (scm_from_utf8_string (names[i]), out);
  free (names);
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_btf_enum
SCM_DEFINE_STATIC (scm_bpf_btf_enum, "%bpf-btf-enum", 1, 0, 0, (SCM name),
                   "Return the values of the kernel's enum @var{name} (as "
                   "the running kernel's BTF describes it) as an alist "
                   "@code{((VALUE . \"ENUMERATOR\") ...)}, or @code{#f} "
                   "when the kernel has no BTF or no such enum.")
{
  SCM_VALIDATE_STRING (1, name);
  const struct btf *vm = gebpf_vmlinux_btf ();
  if (!vm)
    return SCM_BOOL_F;
  char *c = scm_to_utf8_string (name);
  __s32 id = btf__find_by_name_kind (vm, c, BTF_KIND_ENUM);
  if (id < 0)
    id = btf__find_by_name_kind (vm, c, BTF_KIND_ENUM64);
  free (c);
  if (id < 0)
    return SCM_BOOL_F;
  const struct btf_type *t = btf__type_by_id (vm, id);
  SCM out = SCM_EOL;
  bool sign = btf_kflag (t);
  for (int i = btf_vlen (t) - 1; i >= 0; i--)
    {
      SCM v;
      const char *en;
      if (btf_is_enum (t))
        {
          const struct btf_enum *e = btf_enum (t) + i;
          v = sign ? scm_from_int32 (e->val) : scm_from_uint32 ((__u32) e->val);
          en = btf__name_by_offset (vm, e->name_off);
        }
      else
        {
          const struct btf_enum64 *e = btf_enum64 (t) + i;
          __u64 u = btf_enum64_value (e);
          v = sign ? scm_from_int64 ((__s64) u) : scm_from_uint64 (u);
          en = btf__name_by_offset (vm, e->name_off);
        }
      out = scm_acons (v, scm_from_utf8_string (en ? en : "?"), out);
    }
  return out;
}
#undef FUNC_NAME

void
gebpf_init_features (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "features.x"
#endif
}
