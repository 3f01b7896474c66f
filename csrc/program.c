/* program.c --- <bpf-object>: loading one program of a compiled BPF
   object into the kernel, and running it with BPF_PROG_TEST_RUN.

   A <bpf-object> is one program of a BPF ELF object, loaded: libbpf opens
   the object from its bytes (so the sha256 digest attests exactly what
   was loaded), every map the object names that was declared with
   defbpf-map is replaced by the declared kernel map (bpf_map__reuse_fd),
   so all programs share one map per name; the others are created
   privately by libbpf.  .rodata constants are written from #:constants
   before load.  The verifier runs first without a log; on failure the
   load is retried with a log (doubling the buffer on ENOSPC up to a cap)
   and the error carries a summary (verifier-log.c), with the whole log
   in its details.

   What the kernel says about a loaded program is object-info.c's;
   attaching it is attach.c's, and the <bpf-link>s that gives link.c's;
   pinning it is bpffs.c's.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "buf.h"
#include "map.h"
#include "object.h"

SCM gebpf_object_type;

/* Verifier log: first size and cap of the doubling.  */
#define LOG_FIRST (64u << 10)
#define LOG_CAP (16u << 20)

/* ------------------------------------------------------------------ */
/* Program kinds and attach types.                                      */

/* Program kinds are the kernel model's table (kernel/kinds.c).  */

/* #:attach-type values and the kinds they fit: the kernel model's
   cgroup hooks (kernel/kinds.c).  */

/* The short name of an attach type, for printing; NULL if none.  */
const char *
gebpf_attach_type_name (int at)
{
  for (const struct gebpf_sym *e = gebpf_hook_syms; e->name; e++)
    if (e->value == at)
      return e->name;
  return NULL;
}

/* The kind of a program as libbpf typed it from SEC(): the first kind of
   its type and attach type, or among those (kprobe, uprobe ... share a
   type) the one whose section prefix SEC() starts with.  */
const struct gebpf_kind *
gebpf_kind_of_program (const struct bpf_program *prog)
{
  enum bpf_prog_type t = bpf_program__type (prog);
  int at = bpf_program__expected_attach_type (prog);
  const char *sec = bpf_program__section_name (prog);
  const struct gebpf_kind *first = NULL;
  for (const struct gebpf_kind *k = gebpf_kinds; k->name; k++)
    if (k->type == t && (k->attach_type < 0 || k->attach_type == at))
      {
        if (!first)
          first = k;
        size_t n = k->section ? strcspn (k->section, "/") : 0;
        if (n && sec && strncmp (sec, k->section, n) == 0)
          return k;
      }
  return first;
}

/* Enough privilege to load tracing programs: an EPERM then is the
   kernel's policy, not ours to fix.  */
bool
gebpf_tracing_privileged (void)
{
  return gebpf_have_cap (21 /* CAP_SYS_ADMIN */ )
    || (gebpf_have_cap (39 /* CAP_BPF */ ) && gebpf_have_cap (38 /* CAP_PERFMON */ ));
}

const char *
gebpf_cap_names (const struct gebpf_kind *kind)
{
  return kind ? kind->caps : "CAP_BPF (or CAP_SYS_ADMIN)";
}

/* ------------------------------------------------------------------ */
/* <bpf-object>.                                                         */

static void
object_release (struct gebpf_object *o)
{
  if (o->obj)
    bpf_object__close (o->obj);
  o->obj = NULL;
  o->prog = NULL;
  o->prog_fd = -1;
}

static void
finalize_object (SCM obj)
{
  struct gebpf_object *o = scm_foreign_object_ref (obj, 0);
  if (!o)
    return;
  object_release (o);
  free (o->kind_name);
  free (o->name);
  free (o->path);
  free (o->section);
  free (o->target);
  free (o->log);
  free (o);
  scm_foreign_object_set_x (obj, 0, NULL);
}

struct gebpf_object *
gebpf_object_any (SCM obj, const char *subr, int pos)
{
  if (!GEBPF_IS (obj, gebpf_object_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass an object returned by bpf-object-load",
                 "argument %d is not a <bpf-object>: %s", pos,
                 gebpf_repr (obj));
  struct gebpf_object *o = scm_foreign_object_ref (obj, 0);
  if (!o)
    gebpf_error (gebpf_k_error, subr, 0, "load the object again",
                 "the <bpf-object> was finalized");
  return o;
}

/* An object whose program is still loaded.  */
struct gebpf_object *
gebpf_object_live (SCM obj, const char *subr, int pos)
{
  struct gebpf_object *o = gebpf_object_any (obj, subr, pos);
  if (!o->obj)
    gebpf_error (gebpf_k_error, subr, 0,
                 "load it again with bpf-object-load",
                 "program %s of %s was closed with bpf-object-close!",
                 o->name, o->path);
  return o;
}

/* Options of %bpf-object-load.  */
struct load_opts
{
  const struct gebpf_kind *kind;
  char *prog;                   /* C name of the program, or NULL */
  SCM constants;
  SCM line_map;
  int attach_type;              /* -1 when not given */
  char *target;
  int log_level;
};

/* What a load needs to clean up if it throws.  */
struct load_state
{
  struct bpf_object *obj;
  char *elf;
  char *log;
  char *prog;
  char *target;
};

static void
load_state_unwind (void *data)
{
  struct load_state *s = data;
  if (s->obj)
    bpf_object__close (s->obj);
  s->obj = NULL;
  free (s->elf);
  free (s->log);
  free (s->prog);
  free (s->target);
  s->elf = s->log = s->prog = s->target = NULL;
}

static char *
read_whole_file (const char *path, size_t *size, int *err)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      *err = errno;
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      *err = errno ? errno : EINVAL;
      if (S_ISDIR (st.st_mode))
        *err = EISDIR;
      close (fd);
      return NULL;
    }
  size_t n = (size_t) st.st_size;
  char *buf = malloc (n ? n : 1);
  size_t got = 0;
  while (buf && got < n)
    {
      ssize_t r = read (fd, buf + got, n - got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          *err = r < 0 ? errno : EIO;
          free (buf);
          close (fd);
          return NULL;
        }
      got += (size_t) r;
    }
  close (fd);
  if (!buf)
    *err = ENOMEM;
  *size = n;
  return buf;
}

/* The name a Scheme value gives a constant or program: '-' is '_'.  */
static char *
c_name_of (SCM v, const char *subr, const char *what)
{
  return gebpf_c_ident (v, subr, what);
}

/* Whether the rodata variable VAR is constant NAME (bpf-fn's u_NAME
   carries NAME as its symbol, so BTF names it NAME too).  */
static bool
const_name_is (const char *var, const char *name)
{
  return strcmp (var, name) == 0;
}

/* Write the (NAME . INTEGER) pairs of CONSTANTS into MAP (the .rodata
   map), at the offsets BTF gives the variables of those names.  */
static void
apply_constants (struct bpf_object *obj, struct bpf_map *map, SCM constants,
                 const char *path, const char *subr)
{
  const struct btf *btf = bpf_object__btf (obj);
  int sec_id = btf ? btf__find_by_name_kind (btf, ".rodata", BTF_KIND_DATASEC)
    : -1;
  const struct btf_type *sec = sec_id > 0 ? btf__type_by_id (btf, sec_id)
    : NULL;
  size_t size = 0;
  const void *init = map ? bpf_map__initial_value (map, &size) : NULL;
  if (!sec || !init)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "declare the constants in the C source as "
                 "`const volatile TYPE NAME = DEFAULT;' (and compile with -g)",
                 "%s has no constants (no .rodata variables in its BTF), "
                 "but #:constants names %s", path, gebpf_repr (constants));
  uint8_t *buf = scm_gc_malloc_pointerless (size, "gebpf-rodata");
  memcpy (buf, init, size);

  const struct btf_var_secinfo *vs = btf_var_secinfos (sec);
  unsigned nvars = btf_vlen (sec);
  for (SCM l = constants; scm_is_pair (l); l = scm_cdr (l))
    {
      SCM pair = scm_car (l);
      if (!scm_is_pair (pair))
        gebpf_error (gebpf_k_validation, subr, 0,
                     "give #:constants as '((NAME . INTEGER) ...)",
                     "#:constants entry %s is not a (NAME . VALUE) pair",
                     gebpf_repr (pair));
      char *cname = c_name_of (scm_car (pair), subr, "constant name");
      scm_dynwind_begin (0);
      scm_dynwind_free (cname);
      SCM v = scm_cdr (pair);
      if (scm_is_bool (v))
        v = scm_from_int (scm_is_true (v) ? 1 : 0);
      const struct btf_var_secinfo *found = NULL;
      const struct btf_type *vt = NULL;
      for (unsigned i = 0; i < nvars; i++)
        {
          const struct btf_type *var = btf__type_by_id (btf, vs[i].type);
          if (var && btf_is_var (var)
              && const_name_is (btf__name_by_offset (btf, var->name_off),
                                cname))
            {
              found = &vs[i];
              vt = btf__type_by_id (btf, var->type);
              break;
            }
        }
      if (!found)
        {
          struct buf known = { 0 };
          for (unsigned i = 0; i < nvars; i++)
            {
              const struct btf_type *var = btf__type_by_id (btf, vs[i].type);
              if (!var || !btf_is_var (var))
                continue;
              if (known.len)
                gebpf_buf_str (&known, " ");
              const char *vn = btf__name_by_offset (btf, var->name_off);
              gebpf_buf_str (&known, vn);
            }
          char *k = scm_gc_strdup (known.p ? known.p : "(none)", "gebpf-k");
          free (known.p);
          char fix[2048];
          snprintf (fix, sizeof fix, "the constants of %s are: %s", path, k);
          gebpf_error (gebpf_k_validation, subr, 0, fix,
                       "unknown constant %s (no const volatile variable of "
                       "that name in %s)", gebpf_repr (scm_car (pair)), path);
        }
      /* Integer types only, through typedefs and qualifiers.  */
      while (vt && (btf_is_mod (vt) || btf_is_typedef (vt)))
        vt = btf__type_by_id (btf, vt->type);
      bool is_signed = false, is_int = false;
      if (vt && btf_is_int (vt))
        {
          is_int = true;
          is_signed = (btf_int_encoding (vt) & BTF_INT_SIGNED) != 0;
        }
      else if (vt && (btf_is_enum (vt) || btf_is_enum64 (vt)))
        {
          is_int = true;
          is_signed = btf_kflag (vt);
        }
      uint32_t sz = found->size;
      if (!is_int || (sz != 1 && sz != 2 && sz != 4 && sz != 8)
          || found->offset + sz > size)
        gebpf_error (gebpf_k_validation, subr, 0,
                     "only integer constants of 1, 2, 4 or 8 bytes can be "
                     "set from Scheme",
                     "constant %s of %s is not an integer of 1, 2, 4 or 8 "
                     "bytes (%u bytes)", cname, path, sz);
      int bits = (int) sz * 8;
      bool ok;
      if (is_signed)
        ok = scm_is_signed_integer (v, bits == 64 ? INT64_MIN
                                    : -((int64_t) 1 << (bits - 1)),
                                    bits == 64 ? INT64_MAX
                                    : ((int64_t) 1 << (bits - 1)) - 1);
      else
        ok = scm_is_unsigned_integer (v, 0, bits == 64 ? UINT64_MAX
                                      : ((uint64_t) 1 << bits) - 1);
      if (!ok)
        {
          char range[96];
          gebpf_range (range, sizeof range,
                       !is_signed ? 0 : bits == 64 ? INT64_MIN
                       : -((int64_t) 1 << (bits - 1)),
                       is_signed ? (bits == 64 ? INT64_MAX
                                    : ((uint64_t) 1 << (bits - 1)) - 1)
                       : bits == 64 ? UINT64_MAX
                       : ((uint64_t) 1 << bits) - 1);
          gebpf_error (gebpf_k_validation, subr, 0,
                       "give an integer that fits the C type of the "
                       "constant", "constant %s of %s is a %d-bit %s "
                       "integer (%s): %s does not fit", cname, path, bits,
                       is_signed ? "signed" : "unsigned", range,
                       gebpf_repr (scm_cdr (pair)));
        }
      uint8_t *dst = buf + found->offset;
      switch (sz)
        {
        case 1:
          {
            uint8_t x = is_signed ? (uint8_t) scm_to_int8 (v)
              : scm_to_uint8 (v);
            memcpy (dst, &x, 1);
            break;
          }
        case 2:
          {
            uint16_t x = is_signed ? (uint16_t) scm_to_int16 (v)
              : scm_to_uint16 (v);
            memcpy (dst, &x, 2);
            break;
          }
        case 4:
          {
            uint32_t x = is_signed ? (uint32_t) scm_to_int32 (v)
              : scm_to_uint32 (v);
            memcpy (dst, &x, 4);
            break;
          }
        default:
          {
            uint64_t x = is_signed ? (uint64_t) scm_to_int64 (v)
              : scm_to_uint64 (v);
            memcpy (dst, &x, 8);
            break;
          }
        }
      scm_dynwind_end ();
    }
  int r = bpf_map__set_initial_value (map, buf, size);
  if (r < 0)
    gebpf_error (gebpf_k_error, subr, -r, "see the errno above",
                 "setting the constants of %s", path);
}

static const char *
map_type_name (unsigned t)
{
  for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++)
    if (e->map_type == t)
      return e->name;
  const char *s = libbpf_bpf_map_type_str (t);
  return s ? s : "?";
}

/* The dispatcher of a tracing program is built in the program's unit
   (deploy-build.scm): its prog-array, named SLOT_PREFIX..., is used by the
   dispatcher alone, so the program itself is loaded without it.  */
#define SLOT_PREFIX "gebpf_slot_"
#define DISPATCH_SUFFIX "__dispatch"

static bool
is_dispatcher (const struct bpf_program *prog)
{
  const char *n = bpf_program__name (prog);
  size_t l = strlen (n), s = strlen (DISPATCH_SUFFIX);
  return l > s && strcmp (n + l - s, DISPATCH_SUFFIX) == 0;
}

/* Share declared maps; write the constants.  Returns the declared maps
   used, as a list of <bpf-map>.  */
static SCM
configure_maps (struct bpf_object *obj, struct bpf_program *prog,
                const struct load_opts *lo, const char *path,
                const char *subr)
{
  SCM used = SCM_EOL;
  struct bpf_map *rodata = NULL;
  struct bpf_map *map;
  bool dispatcher = is_dispatcher (prog);
  const char *pname = bpf_program__name (prog);
  bpf_object__for_each_map (map, obj)
  {
    const char *mname = bpf_map__name (map);
    /* A dispatcher uses its own slot alone (SLOT__dispatch uses SLOT):
       an object built from several programs holds their slots too.  */
    if (strncmp (mname, SLOT_PREFIX, strlen (SLOT_PREFIX)) == 0
        && !(dispatcher && strlen (pname) == strlen (mname)
             + strlen (DISPATCH_SUFFIX)
             && strncmp (pname, mname, strlen (mname)) == 0))
      {
        bpf_map__set_autocreate (map, false);
        continue;
      }
    if (bpf_map__is_internal (map))
      {
        size_t l = strlen (mname);
        if (l >= 7 && strcmp (mname + l - 7, ".rodata") == 0)
          rodata = map;
        continue;
      }
    SCM decl = gebpf_map_lookup (scm_from_utf8_string (mname));
    if (scm_is_false (decl))
      continue;                 /* libbpf creates it for this object */
    struct gebpf_map *m = gebpf_map_from_scm (decl, subr, 1);
    unsigned t = bpf_map__type (map);
    if (t != m->map_type || bpf_map__key_size (map) != m->key_size
        || bpf_map__value_size (map) != m->value_size
        || bpf_map__max_entries (map) != m->max_entries)
      gebpf_error (gebpf_k_map, subr, 0,
                   "make the defbpf-map declaration and the map in the C "
                   "source agree (kind, key and value sizes, max-entries)",
                   "map %s is declared as %s (key %u, value %u, %u entries) "
                   "but %s defines it as %s (key %u, value %u, %u entries)",
                   m->name, map_type_name (m->map_type), m->key_size,
                   m->value_size, m->max_entries, path, map_type_name (t),
                   bpf_map__key_size (map), bpf_map__value_size (map),
                   bpf_map__max_entries (map));
    int fd = gebpf_map_ensure (decl, subr);
    int r = bpf_map__reuse_fd (map, fd);
    if (r < 0)
      gebpf_syscall_error (gebpf_k_map, subr, -r,
                           scm_gc_strdup (m->name, "gebpf-name"),
                           "see the errno above");
    used = scm_cons (decl, used);
  }
  if (scm_is_pair (lo->constants))
    apply_constants (obj, rodata, lo->constants, path, subr);
  return scm_reverse_x (used, SCM_EOL);
}

/* Choose the program, check or set its kind, load only it.  */
static struct bpf_program *
configure_program (struct bpf_object *obj, const struct load_opts *lo,
                   const char *path, const char *subr)
{
  struct bpf_program *prog = NULL, *p;
  if (lo->prog)
    {
      prog = bpf_object__find_program_by_name (obj, lo->prog);
      if (!prog)
        {
          struct buf known = { 0 };
          bpf_object__for_each_program (p, obj)
          {
            if (known.len)
              gebpf_buf_str (&known, " ");
            gebpf_buf_str (&known, bpf_program__name (p));
          }
          char *k = scm_gc_strdup (known.p ? known.p : "(none)", "gebpf-k");
          free (known.p);
          char fix[2048];
          snprintf (fix, sizeof fix, "the programs of %s are: %s", path, k);
          gebpf_error (gebpf_k_validation, subr, 0, fix,
                       "no program named %s in %s", lo->prog, path);
        }
    }
  else
    prog = bpf_object__next_program (obj, NULL);
  if (!prog)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "put a function in a SEC(\"...\") section, e.g. SEC(\"xdp\")",
                 "%s has no BPF program", path);
  bpf_object__for_each_program (p, obj)
    bpf_program__set_autoload (p, p == prog);

  const struct gebpf_kind *k = lo->kind;
  enum bpf_prog_type t = bpf_program__type (prog);
  if (k)
    {
      if (t == BPF_PROG_TYPE_UNSPEC)
        {
          bpf_program__set_type (prog, k->type);
          if (k->attach_type >= 0)
            bpf_program__set_expected_attach_type (prog, k->attach_type);
        }
      else if (t != k->type
               || (k->attach_type >= 0
                   && (int) bpf_program__expected_attach_type (prog)
                   != k->attach_type))
        {
          const struct gebpf_kind *sk = gebpf_kind_of_program (prog);
          gebpf_error (gebpf_k_validation, subr, 0,
                       "make #:kind and the program's SEC() agree",
                       "program %s of %s is in section \"%s\", which makes "
                       "it a %s program, not %s",
                       bpf_program__name (prog), path,
                       bpf_program__section_name (prog),
                       sk ? sk->name : libbpf_bpf_prog_type_str (t), k->name);
        }
    }
  else if (t == BPF_PROG_TYPE_UNSPEC)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass #:kind, or use a section name libbpf knows "
                 "(SEC(\"xdp\"), SEC(\"tracepoint/CAT/NAME\") ...)",
                 "libbpf cannot tell the kind of program %s of %s from its "
                 "section \"%s\"", bpf_program__name (prog), path,
                 bpf_program__section_name (prog));

  t = bpf_program__type (prog);
  if (lo->attach_type >= 0)
    {
      if (!gebpf_hook_fits (t, lo->attach_type))
        gebpf_error (gebpf_k_validation, subr, 0, gebpf_hook_hint (t),
                     "#:attach-type %s does not fit a %s program",
                     gebpf_attach_type_name (lo->attach_type),
                     k ? k->name : libbpf_bpf_prog_type_str (t));
      bpf_program__set_expected_attach_type (prog, lo->attach_type);
    }
  else if (t == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
           && !gebpf_hook_fits (t, bpf_program__expected_attach_type (prog)))
    gebpf_error (gebpf_k_validation, subr, 0, gebpf_hook_hint (t),
                 "program %s of %s is a cgroup-sock-addr program: it needs "
                 "the hook it is for", bpf_program__name (prog), path);

  if (lo->target)
    {
      const struct gebpf_kind *ek = k ? k : gebpf_kind_of_program (prog);
      if (ek && (ek->flags & KF_BTF))
        {
          int r = bpf_program__set_attach_target (prog, 0, lo->target);
          if (r < 0)
            gebpf_error (gebpf_k_attach, subr, -r,
                         "list the candidates with bpf-list-probes, or look "
                         "for the name in /sys/kernel/btf/vmlinux (bpftool "
                         "btf dump file /sys/kernel/btf/vmlinux)",
                         "no kernel %s named %s for %s program %s",
                         ek->attach_type == BPF_TRACE_RAW_TP
                         ? "BTF tracepoint" : ek->type == BPF_PROG_TYPE_LSM
                         ? "LSM hook" : "function", lo->target, ek->name,
                         bpf_program__name (prog));
        }
    }
  return prog;
}

/* The target of a BTF kind: #:target, else the part of SEC() after '/'.  */
static char *
btf_target (const struct bpf_program *prog, const struct gebpf_kind *k,
            const char *given)
{
  if (!k || !(k->flags & KF_BTF))
    return NULL;
  if (given)
    return strdup (given);
  const char *sec = bpf_program__section_name (prog);
  const char *slash = strchr (sec, '/');
  return slash && slash[1] ? strdup (slash + 1) : NULL;
}

static void
parse_load_options (SCM rest, struct load_opts *lo, struct load_state *st,
                    const char *subr)
{
  lo->kind = NULL;
  lo->prog = NULL;
  lo->constants = SCM_EOL;
  lo->line_map = SCM_BOOL_F;
  lo->attach_type = -1;
  lo->target = NULL;
  lo->log_level = 0;
  static const char *known =
    "#:kind #:name #:constants #:line-map #:attach-type #:target #:log-level";
  while (!scm_is_null (rest))
    {
      if (!scm_is_pair (rest) || !scm_is_keyword (scm_car (rest))
          || !scm_is_pair (scm_cdr (rest)))
        gebpf_error (gebpf_k_validation, subr, 0, known,
                     "expected keyword arguments, got %s", gebpf_repr (rest));
      SCM kw = scm_car (rest), v = scm_cadr (rest);
      rest = scm_cddr (rest);
      char *k = scm_to_utf8_string (scm_symbol_to_string
                                    (scm_keyword_to_symbol (kw)));
      int which = !strcmp (k, "kind") ? 0 : !strcmp (k, "name") ? 1
        : !strcmp (k, "constants") ? 2 : !strcmp (k, "line-map") ? 3
        : !strcmp (k, "attach-type") ? 4 : !strcmp (k, "target") ? 5
        : !strcmp (k, "log-level") ? 6 : -1;
      free (k);
      if (scm_is_false (v) && which >= 0 && which != 6)
        continue;               /* #f: not given */
      switch (which)
        {
        case 0:
          lo->kind = &gebpf_kinds[gebpf_sym_lookup (gebpf_kind_syms, v, subr,
                                              "program kind")];
          break;
        case 1:
          free (st->prog);
          st->prog = lo->prog = c_name_of (v, subr, "program name");
          break;
        case 2:
          if (scm_is_false (scm_list_p (v)))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give #:constants as '((NAME . INTEGER) ...)",
                         "#:constants must be an alist, not %s",
                         gebpf_repr (v));
          lo->constants = v;
          break;
        case 3:
          if (!scm_is_vector (v))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give a vector indexed by C line number whose "
                         "elements are #f or strings",
                         "#:line-map must be a vector or #f, not %s",
                         gebpf_repr (v));
          lo->line_map = v;
          break;
        case 4:
          lo->attach_type = (int) gebpf_sym_lookup (gebpf_hook_syms, v, subr,
                                                    "attach type");
          break;
        case 5:
          if (!scm_is_string (v) && !scm_is_symbol (v))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give the target as a string, e.g. \"sys_enter\"",
                         "#:target must be a string, not %s", gebpf_repr (v));
          free (st->target);
          st->target = lo->target = scm_to_utf8_string
            (scm_is_string (v) ? v : scm_symbol_to_string (v));
          break;
        case 6:
          if (scm_is_false (v))
            lo->log_level = 0;
          else if (scm_is_eq (v, SCM_BOOL_T))
            lo->log_level = 1;
          else if (scm_is_unsigned_integer (v, 0, 7))
            lo->log_level = scm_to_int (v);
          else
            gebpf_error (gebpf_k_validation, subr, 0,
                         "use 0 (a log only on failure), 1 (the verifier's "
                         "trace), 2 (verbose) or 4 (statistics)",
                         "#:log-level must be an integer from 0 to 7, not %s",
                         gebpf_repr (v));
          break;
        default:
          gebpf_error (gebpf_k_validation, subr, 0, known,
                       "unknown keyword %s", gebpf_repr (kw));
        }
    }
}

#define FUNC_NAME s_scm_bpf_object_load
SCM_DEFINE_STATIC (scm_bpf_object_load, "%bpf-object-load", 1, 0, 1,
                   (SCM path, SCM rest),
                   "Load one program of the BPF ELF object at @var{path} "
                   "into the kernel and return a @code{<bpf-object>}.  "
                   "Keywords (each may be @code{#f}): @code{#:kind} "
                   "(xdp, tc, tracepoint ... checked against SEC(), or set "
                   "when SEC() does not say), @code{#:name} (the program; "
                   "default the first), @code{#:constants} (alist of "
                   ".rodata constants), @code{#:line-map} (vector from C "
                   "line to the text that replaces the verifier log's "
                   "annotation of that line), @code{#:attach-type} (cgroup "
                   "hook: ingress, egress, connect4 ...), @code{#:target} "
                   "(function or tracepoint of tp-btf, fentry, fexit, "
                   "fmod-ret, lsm), @code{#:log-level} (keep the verifier "
                   "log of a successful load).  Declared maps of the same "
                   "name are shared.  Raises @code{ebpf-verifier-error} "
                   "(summary; full log under @code{log} in the details), "
                   "@code{ebpf-permission-error}, @code{ebpf-attach-error} "
                   "(a refused trampoline, a missing BTF target), "
                   "@code{ebpf-map-error}, @code{ebpf-validation-error} "
                   "(unknown constant, kind or program) or @code{ebpf-error}.")
{
  SCM_VALIDATE_STRING (1, path);
  struct load_state st = { 0 };
  struct load_opts lo;
  scm_dynwind_begin (0);
  scm_dynwind_unwind_handler (load_state_unwind, &st, 0);
  char *cpath = scm_to_utf8_string (path);
  scm_dynwind_free (cpath);
  parse_load_options (rest, &lo, &st, FUNC_NAME);

  size_t elf_size = 0;
  int err = 0;
  st.elf = read_whole_file (cpath, &elf_size, &err);
  if (!st.elf)
    gebpf_error (gebpf_k_error, FUNC_NAME, err,
                 err == ENOENT ? "check the path (build the object with "
                 "clang -g -O2 -target bpf -c x.bpf.c -o x.bpf.o)"
                 : "check the path and its permissions",
                 "cannot read BPF object %s", cpath);
  char digest[65];
  gebpf_sha256_hex (st.elf, elf_size, digest);

  /* libbpf names the object (and its internal maps) after the file.  */
  char objname[64];
  const char *base = strrchr (cpath, '/');
  snprintf (objname, sizeof objname, "%s", base ? base + 1 : cpath);
  char *dot = strchr (objname, '.');
  if (dot && dot != objname)
    *dot = 0;

  gebpf_libbpf_log_take ();     /* forget what earlier calls printed */
  size_t log_size = LOG_FIRST;
  int log_level = lo.log_level;
  SCM used = SCM_EOL;
  struct bpf_program *prog = NULL;
  const struct gebpf_kind *kind = NULL;
  for (;;)
    {
      LIBBPF_OPTS (bpf_object_open_opts, oo, .object_name = objname);
      st.obj = bpf_object__open_mem (st.elf, elf_size, &oo);
      if (!st.obj)
        {
          err = errno;
          const char *lib = gebpf_libbpf_log_take ();
          gebpf_error_log (gebpf_k_error, FUNC_NAME, err, lib,
                           "build the object with clang -g -O2 -target bpf "
                           "(BTF is needed); libbpf's messages are under "
                           "'log in the details",
                           "libbpf cannot open %s as a BPF object", cpath);
        }
      prog = configure_program (st.obj, &lo, cpath, FUNC_NAME);
      used = configure_maps (st.obj, prog, &lo, cpath, FUNC_NAME);
      kind = lo.kind ? lo.kind : gebpf_kind_of_program (prog);

      free (st.log);
      st.log = malloc (log_size);
      if (!st.log)
        gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                     "allocating the verifier log");
      st.log[0] = 0;
      bpf_program__set_log_buf (prog, st.log, log_size);
      /* Level 0 first: libbpf itself retries a failed load at level 1
         into our buffer, so the cheap path stays cheap.  */
      bpf_program__set_log_level (prog, log_level);
      int r = bpf_object__load (st.obj);
      if (r == 0)
        break;
      err = -r;
      if (err == ENOSPC && log_size < LOG_CAP)
        {
          /* The log did not fit: grow it and try again, at level 1
             straight away (the rolling log keeps the end meanwhile).  */
          bpf_object__close (st.obj);
          st.obj = NULL;
          log_size *= 2;
          if (log_level == 0)
            log_level = 1;
          gebpf_libbpf_log_take ();
          continue;
        }

      /* Failed for good: say why.  */
      const char *pname = bpf_program__name (prog);
      const char *kname = kind ? kind->name
        : libbpf_bpf_prog_type_str (bpf_program__type (prog));
      st.log[log_size - 1] = 0;
      char *rlog = gebpf_rewrite_log (st.log, lo.line_map);
      char *glog = scm_gc_strdup (rlog, "gebpf-log");
      free (rlog);
      char *lib = scm_gc_strdup (gebpf_libbpf_log_take (), "gebpf-log");
      char *gname = scm_gc_strdup (pname, "gebpf-name");
      char *gsec = scm_gc_strdup (bpf_program__section_name (prog),
                                  "gebpf-name");
      char *gtarget = scm_gc_strdup (st.target ? st.target : gsec,
                                     "gebpf-name");
      bpf_object__close (st.obj);
      st.obj = NULL;
      bool has_log = glog[0] != 0;
      if (kind && (kind->flags & KF_TRAMPOLINE)
          && (err == EOPNOTSUPP || err == ENOTSUPP_ERRNO
              || ((err == EPERM || (err == EACCES && !has_log))
                  && gebpf_tracing_privileged ())))
        {
          /* The kind's stand-ins (kernel/kinds.c) first.  */
          char hint[256], fix[640];
          gebpf_kind_fallback_hint (kind - gebpf_kinds, hint, sizeof hint);
          snprintf (fix, sizeof fix, "%s%sattach to the same event without "
                    "a trampoline: a tracepoint (#:kind 'tracepoint, "
                    "\"syscalls/sys_enter_openat\"), a raw tracepoint or "
                    "tp-btf; or a kprobe where the kernel has them", hint,
                    *hint ? "; or " : "");
          gebpf_error_log (gebpf_k_attach, FUNC_NAME, err,
                           has_log ? glog : lib, fix,
                           "this kernel refused the %s program %s (%s): "
                           "it does not allow BPF trampoline programs "
                           "(fentry, fexit, fmod-ret, lsm)", kname, gname,
                           gsec);
        }
      if (err == EPERM || (err == EACCES && !has_log))
        {
          char fix[512];
          snprintf (fix, sizeof fix,
                    "run as root, or grant %s, e.g. `sudo setcap "
                    "cap_bpf,cap_perfmon,cap_net_admin+ep $(which guile)`",
                    gebpf_cap_names (kind));
          gebpf_error_log (gebpf_k_permission, FUNC_NAME, err, lib, fix,
                           "loading %s program %s of %s needs %s: the "
                           "kernel refused it", kname, gname, cpath,
                           gebpf_cap_names (kind));
        }
      if (has_log)
        gebpf_verifier_error (FUNC_NAME, gname, kname, cpath, glog);
      if (kind && (kind->flags & KF_BTF) && (err == ESRCH || err == ENOENT))
        gebpf_error_log (gebpf_k_attach, FUNC_NAME, err, lib,
                         "list the candidates with bpf-list-probes, or pass "
                         "#:target with a name /sys/kernel/btf/vmlinux has",
                         "no kernel %s for %s program %s (target %s)",
                         kind->attach_type == BPF_TRACE_RAW_TP
                         ? "BTF tracepoint" : kind->type == BPF_PROG_TYPE_LSM
                         ? "LSM hook" : "function", kname, gname, gtarget);
      gebpf_error_log (gebpf_k_error, FUNC_NAME, err, lib,
                       "libbpf's messages are under 'log in the details",
                       "loading %s program %s of %s failed", kname, gname,
                       cpath);
    }

  struct gebpf_object *o = calloc (1, sizeof *o);
  o->obj = st.obj;
  o->prog = prog;
  o->prog_fd = bpf_program__fd (prog);
  o->type = bpf_program__type (prog);
  o->attach_type = bpf_program__expected_attach_type (prog);
  o->kind = kind;
  if (kind)
    o->kind_name = strdup (kind->name);
  else
    {
      const char *s = libbpf_bpf_prog_type_str (o->type);
      o->kind_name = strdup (s ? s : "unknown");
      for (char *q = o->kind_name; *q; q++)
        if (*q == '_')
          *q = '-';
    }
  o->name = strdup (bpf_program__name (prog));
  o->path = strdup (cpath);
  o->section = strdup (bpf_program__section_name (prog));
  o->target = btf_target (prog, kind, st.target);
  memcpy (o->digest, digest, sizeof digest);
  if (lo.log_level && st.log[0])
    {
      st.log[log_size - 1] = 0;
      o->log = gebpf_rewrite_log (st.log, lo.line_map);
    }
  struct bpf_prog_info info;
  __u32 len = sizeof info;
  memset (&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd (o->prog_fd, &info, &len) == 0)
    o->id = info.id;
  st.obj = NULL;                /* the object owns it now */
  SCM obj = scm_make_foreign_object_2 (gebpf_object_type, o,
                                       (void *) SCM_UNPACK (used));
  scm_dynwind_end ();
  free (st.elf);
  free (st.log);
  free (st.prog);
  free (st.target);
  return obj;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_object_close_x
SCM_DEFINE_STATIC (scm_bpf_object_close_x, "%bpf-object-close!", 1, 0, 0,
                   (SCM obj),
                   "Unload @var{obj}: close its program and private maps.  "
                   "Idempotent.  Links attached from it stay attached (they "
                   "hold the program in the kernel) until destroyed.  "
                   "Raises @code{ebpf-validation-error} if @var{obj} is not "
                   "a @code{<bpf-object>}.")
{
  struct gebpf_object *o = gebpf_object_any (obj, FUNC_NAME, 1);
  object_release (o);
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_object_p
SCM_DEFINE_STATIC (scm_bpf_object_p, "%bpf-object?", 1, 0, 0, (SCM obj),
                   "Return @code{#t} if @var{obj} is a @code{<bpf-object>}, "
                   "loaded or closed.  Raises nothing.")
{
  return scm_from_bool (GEBPF_IS (obj, gebpf_object_type));
}
#undef FUNC_NAME


/* ------------------------------------------------------------------ */
/* BPF_PROG_TEST_RUN.                                                    */

#define FUNC_NAME s_scm_bpf_test_run
SCM_DEFINE_STATIC (scm_bpf_test_run, "%bpf-test-run", 3, 0, 0,
                   (SCM obj, SCM data, SCM repeat),
                   "Run the program of @var{obj} @var{repeat} times on the "
                   "packet @var{data} (a bytevector) with "
                   "BPF_PROG_TEST_RUN; return a vector #(RETVAL "
                   "DURATION-NS DATA-OUT), DURATION-NS the mean per run and "
                   "DATA-OUT the packet as the program left it.  Raises "
                   "@code{ebpf-validation-error} on bad arguments, "
                   "@code{ebpf-error} when the kernel cannot test-run this "
                   "kind of program or refuses the packet.")
{
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 1);
  if (!scm_is_bytevector (data))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the packet as a bytevector",
                 "argument 2 is not a bytevector: %s", gebpf_repr (data));
  if (!scm_is_unsigned_integer (repeat, 0, UINT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give #:repeat as a count of runs",
                 "repeat must be an integer between 0 and 2^32-1, not %s",
                 gebpf_repr (repeat));
  size_t in_size = SCM_BYTEVECTOR_LENGTH (data);
  /* A program may grow the packet (XDP tail and head adjustments).  */
  size_t out_size = in_size + 4096;
  scm_dynwind_begin (0);
  for (int attempt = 0;; attempt++)
    {
      uint8_t *in = malloc (in_size ? in_size : 1);
      uint8_t *out = malloc (out_size);
      scm_dynwind_free (in);
      scm_dynwind_free (out);
      if (!in || !out)
        gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                     "allocating the test packet");
      memcpy (in, SCM_BYTEVECTOR_CONTENTS (data), in_size);
      LIBBPF_OPTS (bpf_test_run_opts, t,
                   .data_in = in,.data_size_in = (__u32) in_size,
                   .data_out = out,.data_size_out = (__u32) out_size,
                   .repeat = scm_to_uint32 (repeat));
      int r = bpf_prog_test_run_opts (o->prog_fd, &t);
      if (r < 0 && errno == ENOSPC && attempt == 0
          && t.data_size_out > out_size)
        {
          out_size = t.data_size_out;
          continue;
        }
      if (r < 0)
        {
          int err = errno;
          char what[256];
          snprintf (what, sizeof what, "test-running %s program %s",
                    o->kind_name, o->name);
          if (err == EPERM || err == EACCES)
            gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err, what, NULL);
          gebpf_error (gebpf_k_error, FUNC_NAME, err,
                       err == ENOTSUPP_ERRNO || err == EOPNOTSUPP
                       ? "BPF_PROG_TEST_RUN runs packet programs (xdp, tc, "
                       "socket-filter, cgroup-skb ...); attach tracing "
                       "programs and make the event happen instead"
                       : "give a whole packet: at least an Ethernet header "
                       "(14 bytes) for xdp and tc", "%s", what);
        }
      size_t n = t.data_size_out <= out_size ? t.data_size_out : out_size;
      SCM bv = scm_c_make_bytevector (n);
      memcpy (SCM_BYTEVECTOR_CONTENTS (bv), out, n);
      SCM v = scm_c_make_vector (3, SCM_BOOL_F);
      scm_c_vector_set_x (v, 0, scm_from_uint32 (t.retval));
      scm_c_vector_set_x (v, 1, scm_from_uint32 (t.duration));
      scm_c_vector_set_x (v, 2, bv);
      scm_dynwind_end ();
      return v;
    }
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */

void
gebpf_init_program (void)
{
  gebpf_object_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-object"),
                                  scm_list_2 (scm_from_utf8_symbol ("ptr"),
                                              scm_from_utf8_symbol ("maps")),
                                  finalize_object);
  scm_c_define ("<bpf-object>", gebpf_object_type);
#ifndef SCM_MAGIC_SNARFER
#include "program.x"
#endif
}
