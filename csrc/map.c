/* map.c --- <bpf-map>: declared maps and their kernel objects.

   A declaration is data: validated at once, registered by name, and
   created in the kernel only on first use (gebpf_map_ensure).  Here too:
   the accessors, pinning and closing, maps opened from a pin or an fd,
   and the kernel's list of maps.  What goes in and out of a map (element
   I/O, whole-map operations) is map-io.c's.  */
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
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"

SCM gebpf_map_type;
static SCM registry;            /* eq? hash: kebab symbol -> <bpf-map> */

/* The map kinds and their K_* flags are the kernel model's (kernel/kinds.c).  */
#define kind_syms gebpf_map_kind_syms

static const struct gebpf_sym flag_syms[] = {
  {"no-prealloc", BPF_F_NO_PREALLOC},
  {"no-common-lru", BPF_F_NO_COMMON_LRU},
  {"numa-node", BPF_F_NUMA_NODE},
  {"rdonly", BPF_F_RDONLY},
  {"wronly", BPF_F_WRONLY},
  {"rdonly-prog", BPF_F_RDONLY_PROG},
  {"wronly-prog", BPF_F_WRONLY_PROG},
  {"zero-seed", BPF_F_ZERO_SEED},
  {"mmapable", BPF_F_MMAPABLE},
  {"clone", BPF_F_CLONE},
  {"inner-map", BPF_F_INNER_MAP},
  {NULL, 0}
};

/* ------------------------------------------------------------------ */

struct gebpf_map *
gebpf_map_from_scm (SCM obj, const char *subr, int pos)
{
  if (GEBPF_IS (obj, gebpf_map_type))
    return scm_foreign_object_ref (obj, 0);
  SCM m = gebpf_map_lookup (obj);
  if (scm_is_true (m))
    return scm_foreign_object_ref (m, 0);
  if (scm_is_string (obj) || scm_is_symbol (obj))
    gebpf_error (gebpf_k_map, subr, 0,
                 "declare it with defbpf-map first, or check the spelling "
                 "(bpf-map-names lists the declared maps)",
                 "no map named %s", gebpf_repr (obj));
  gebpf_error (gebpf_k_validation, subr, 0,
               "pass a map object made by defbpf-map, or a map's name",
               "argument %d is not a map: %s", pos, gebpf_repr (obj));
}

struct gebpf_map *
gebpf_map_arg (SCM obj, SCM *out, const char *subr, int pos)
{
  if (GEBPF_IS (obj, gebpf_map_type))
    {
      *out = obj;
      struct gebpf_map *m = scm_foreign_object_ref (obj, 0);
      if (m)
        return m;
    }
  *out = gebpf_map_lookup (obj);
  return gebpf_map_from_scm (obj, subr, pos);
}

static SCM
name_key (const char *cname)
{
  char *k = strdup (cname);
  for (char *p = k; *p; p++)
    if (*p == '_')
      *p = '-';
  SCM s = scm_from_utf8_symbol (k);
  free (k);
  return s;
}

SCM
gebpf_map_lookup (SCM name)
{
  if (GEBPF_IS (name, gebpf_map_type))
    return name;
  if (!scm_is_string (name) && !scm_is_symbol (name))
    return SCM_BOOL_F;
  SCM str = scm_is_string (name) ? name : scm_symbol_to_string (name);
  char *c = scm_to_utf8_string (str);
  SCM k = name_key (c);
  free (c);
  return scm_hashq_ref (registry, k, SCM_BOOL_F);
}

static void
finalize_map (SCM obj)
{
  struct gebpf_map *m = scm_foreign_object_ref (obj, 0);
  if (!m)
    return;
  if (m->fd >= 0)
    close (m->fd);
  m->fd = -1;
  free (m->name);
  free (m->cname);
  free (m->pin_path);
  free (m->doc);
  free (m);
  scm_foreign_object_set_x (obj, 0, NULL);
}

static SCM
make_map_object (struct gebpf_map *m, SCM inner)
{
  SCM obj = scm_make_foreign_object_2 (gebpf_map_type, m,
                                       (void *) SCM_UNPACK (inner));
  return obj;
}

static SCM
map_inner (SCM obj)
{
  return SCM_PACK ((scm_t_bits) scm_foreign_object_ref (obj, 1));
}

bool
gebpf_map_percpu (const struct gebpf_map *m)
{
  return m->kind->flags & K_PERCPU;
}

size_t
gebpf_map_value_stride (const struct gebpf_map *m)
{
  return (m->value_size + 7) / 8 * 8;
}

size_t
gebpf_map_value_bufsize (const struct gebpf_map *m)
{
  if (gebpf_map_percpu (m))
    return gebpf_map_value_stride (m) * gebpf_nr_cpus ();
  return m->value_size;
}

/* ------------------------------------------------------------------ */
/* Declaration.                                                         */

static bool
is_pow2 (uint64_t x)
{
  return x && !(x & (x - 1));
}

static SCM_NORETURN void
decl_error (const char *subr, const char *name, const char *fix,
            const char *what)
{
  gebpf_error (gebpf_k_validation, subr, 0, fix, "map %s: %s", name, what);
}

#define FUNC_NAME "defbpf-map"
SCM_DEFINE_STATIC (scm_make_bpf_map, "%make-bpf-map", 10, 0, 0,
            (SCM name, SCM kind, SCM key, SCM key_size, SCM value,
             SCM value_size, SCM max_entries, SCM pin_path, SCM flags,
             SCM rest),
            "Validate a map declaration and return a new @code{<bpf-map>} "
            "(not yet created in the kernel), registered under its name.  "
            "@var{rest} is @code{(INNER-MAP DOC)}.  Fields not given are "
            "@code{#f}.  Raises @code{ebpf-validation-error} naming the "
            "field at fault.")
{
  SCM inner = scm_is_pair (rest) ? SCM_CAR (rest) : SCM_BOOL_F;
  SCM doc = scm_ilength (rest) >= 2 ? SCM_CADR (rest) : SCM_BOOL_F;
  if (scm_is_false (name))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "write (defbpf-map NAME #:kind KIND ...) or give #:name",
                 "map declaration has no name");
  char *cname = gebpf_c_ident (name, FUNC_NAME, "map name");
  scm_dynwind_begin (0);
  scm_dynwind_free (cname);
  char *dname = scm_gc_strdup (cname, "name");
  for (char *p = dname; *p; p++)
    if (*p == '_')
      *p = '-';
  if (scm_is_false (kind))
    decl_error (FUNC_NAME, dname, "add #:kind, e.g. #:kind 'hash",
                "no #:kind given");
  long ki = gebpf_sym_lookup (kind_syms, kind, FUNC_NAME, "map kind");
  const struct gebpf_map_kind *k = &gebpf_map_kinds[ki];
  bool hist = strcmp (k->name, "histogram") == 0;

  struct gebpf_type *kt = NULL, *vt = NULL, *rt = NULL;
  char what[160];
  snprintf (what, sizeof what, "key type of map %s", dname);
  if (scm_is_true (key))
    kt = gebpf_type_parse (key, FUNC_NAME, what);
  snprintf (what, sizeof what, "value type of map %s", dname);
  if (scm_is_true (value))
    vt = gebpf_type_parse (value, FUNC_NAME, what);

  long ks = -1, vs = -1;
  if (scm_is_true (key_size))
    {
      if (!scm_is_unsigned_integer (key_size, 0, 65536))
        decl_error (FUNC_NAME, dname, "give #:key-size as a byte count",
                    "bad #:key-size: it must be between 0 and 65536");
      ks = scm_to_long (key_size);
    }
  if (scm_is_true (value_size))
    {
      if (!scm_is_unsigned_integer (value_size, 0, 1 << 26))
        decl_error (FUNC_NAME, dname, "give #:value-size as a byte count",
                    "bad #:value-size: it must be between 0 and 2^26");
      vs = scm_to_long (value_size);
    }
  if (kt && ks >= 0 && (size_t) ks != kt->size)
    {
      char msg[200];
      snprintf (msg, sizeof msg, "#:key-size %ld does not match the key "
                "type's size %zu", ks, kt->size);
      decl_error (FUNC_NAME, dname, "drop #:key-size or make it agree with "
                  "#:key", msg);
    }
  if (vt && vs >= 0 && (size_t) vs != vt->size)
    {
      char msg[200];
      snprintf (msg, sizeof msg, "#:value-size %ld does not match the value "
                "type's size %zu", vs, vt->size);
      decl_error (FUNC_NAME, dname, "drop #:value-size or make it agree "
                  "with #:value", msg);
    }

  struct gebpf_map *m = calloc (1, sizeof *m);
  m->fd = -1;
  m->kind = k;
  m->map_type = k->map_type;
  m->max_entries = 0;
  m->hist_keyed = false;

  if (k->flags & K_KEYLESS)
    {
      if (kt || ks > 0)
        {
          free (m);
          decl_error (FUNC_NAME, dname, "drop #:key and #:key-size",
                      "this kind of map has no key");
        }
      m->key = NULL;
      m->key_size = 0;
    }
  else if (hist && kt)
    {
      /* Keyed histogram: struct { KEY key; u32 slot; } in a per-CPU hash.  */
      m->hist_keyed = true;
      m->map_type = BPF_MAP_TYPE_PERCPU_HASH;
      m->hist_key = kt;
      size_t off = (kt->size + 3) / 4 * 4;
      size_t al = kt->align > 4 ? kt->align : 4;
      m->key_size = (off + 4 + al - 1) / al * al;
      m->key = gebpf_type_untyped (m->key_size);
    }
  else if (k->flags & K_INDEX)
    {
      size_t sz = kt ? kt->size : ks >= 0 ? (size_t) ks : 4;
      if (sz != 4)
        {
          free (m);
          decl_error (FUNC_NAME, dname, "use #:key 'u32 (or leave it out)",
                      "the key of this kind of map is a 4-byte index");
        }
      m->key = kt ? kt : gebpf_type_base (GT_U32);
      m->key_size = 4;
    }
  else if (kt)
    {
      m->key = kt;
      m->key_size = kt->size;
    }
  else if (ks > 0)
    {
      /* An untyped LPM key is prefix length + address bytes: keep it a
         bytevector whatever its size.  */
      m->key = k->map_type == BPF_MAP_TYPE_LPM_TRIE && ks > 4
        ? gebpf_type_raw (ks) : gebpf_type_untyped (ks);
      m->key_size = ks;
    }
  else
    {
      free (m);
      decl_error (FUNC_NAME, dname, "add #:key TYPE or #:key-size N",
                  "no key given");
    }

  if (m->map_type == BPF_MAP_TYPE_LPM_TRIE
      && !(m->key->kind == GT_PREFIX
           || (m->key->kind == GT_STRUCT && m->key->nfields > 0
               && m->key->fields[0].type->size == 4)
           || (m->key->kind == GT_RAW && m->key_size > 4)))
    {
      free (m);
      decl_error (FUNC_NAME, dname,
                  "use #:key '(prefix ipv4) or '(prefix ipv6)",
                  "an lpm-trie key must be a prefix type");
    }

  if (k->flags & K_RECORDS)
    {
      /* #:value is the record type of events, not the kernel value.  */
      rt = vt;
      vt = NULL;
      if (m->map_type == BPF_MAP_TYPE_RINGBUF)
        {
          m->value = NULL;
          m->value_size = 0;
        }
      else
        {
          m->value = gebpf_type_base (GT_U32);
          m->value_size = 4;
        }
      m->record = rt;
    }
  else if (hist)
    {
      if (vt || vs >= 0)
        {
          free (m);
          decl_error (FUNC_NAME, dname, "drop #:value; buckets are u64 counts",
                      "a histogram has no #:value");
        }
      m->value = gebpf_type_base (GT_U64);
      m->value_size = 8;
    }
  else if (k->flags & K_FDVAL)
    {
      m->value = vt ? vt : gebpf_type_base (GT_U32);
      m->value_size = m->value->size;
      if (vs >= 0 && (size_t) vs != m->value_size)
        m->value = gebpf_type_untyped (m->value_size = vs);
    }
  else if (vt)
    {
      m->value = vt;
      m->value_size = vt->size;
    }
  else if (vs > 0)
    {
      m->value = gebpf_type_untyped (vs);
      m->value_size = vs;
    }
  else if (m->map_type == BPF_MAP_TYPE_STACK_TRACE)
    {
      m->value_size = 8 * 127;  /* PERF_MAX_STACK_DEPTH frames */
      m->value = gebpf_type_untyped (m->value_size);
    }
  else
    {
      free (m);
      decl_error (FUNC_NAME, dname, "add #:value TYPE or #:value-size N",
                  "no value given");
    }

  if (scm_is_true (max_entries))
    {
      if (!scm_is_unsigned_integer (max_entries, 1, UINT32_MAX))
        {
          free (m);
          decl_error (FUNC_NAME, dname, "give #:max-entries as an integer > 0",
                      "#:max-entries must be an integer between 1 and "
                      "2^32-1");
        }
      m->max_entries = scm_to_uint32 (max_entries);
    }
  else if (m->map_type == BPF_MAP_TYPE_RINGBUF)
    m->max_entries = 256 * 1024;
  else if (m->map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY
           || m->map_type == BPF_MAP_TYPE_CPUMAP)
    m->max_entries = gebpf_nr_cpus ();
  else if (hist && !m->hist_keyed)
    m->max_entries = GEBPF_HIST_BUCKETS;
  else
    m->max_entries = 10240;
  /* 64 was the size before the negative bucket: still accepted.  */
  if (hist && !m->hist_keyed && m->max_entries == GEBPF_HIST_BUCKETS - 1)
    m->max_entries = GEBPF_HIST_BUCKETS;
  if (hist && !m->hist_keyed && m->max_entries != GEBPF_HIST_BUCKETS)
    {
      free (m);
      decl_error (FUNC_NAME, dname, "drop #:max-entries",
                  "an unkeyed histogram has exactly 65 buckets");
    }
  if (m->map_type == BPF_MAP_TYPE_RINGBUF)
    {
      long page = sysconf (_SC_PAGESIZE);
      if (!is_pow2 (m->max_entries) || m->max_entries % page)
        {
          char msg[160];
          snprintf (msg, sizeof msg, "ring buffer size %u is not a power of "
                    "two and a multiple of the page size (%ld)",
                    m->max_entries, page);
          free (m);
          decl_error (FUNC_NAME, dname,
                      "use a size such as 262144 (256 KiB) or 16777216",
                      msg);
        }
    }

  uint32_t fl = 0;
  if (scm_is_true (flags))
    {
      SCM l = scm_is_pair (flags) || scm_is_null (flags) ? flags
        : scm_list_1 (flags);
      for (; scm_is_pair (l); l = SCM_CDR (l))
        fl |= gebpf_sym_lookup (flag_syms, SCM_CAR (l), FUNC_NAME, "map flag");
    }
  if (m->map_type == BPF_MAP_TYPE_LPM_TRIE)
    fl |= BPF_F_NO_PREALLOC;
  m->map_flags = fl;

  if (k->flags & K_INNER)
    {
      if (scm_is_false (inner))
        {
          free (m);
          decl_error (FUNC_NAME, dname, "add #:inner-map with a template map "
                      "(a map object or its name)",
                      "a map of maps needs #:inner-map");
        }
      m->value = gebpf_type_base (GT_U32);
      m->value_size = 4;
    }
  else if (scm_is_true (inner))
    {
      free (m);
      decl_error (FUNC_NAME, dname, "drop #:inner-map",
                  "only array-of-maps and hash-of-maps take #:inner-map");
    }

  if (scm_is_true (pin_path))
    {
      if (!scm_is_string (pin_path))
        {
          free (m);
          decl_error (FUNC_NAME, dname, "give #:pin-path as a string under "
                      "/sys/fs/bpf", "bad #:pin-path");
        }
      m->pin_path = scm_to_utf8_string (pin_path);
    }
  if (scm_is_string (doc))
    m->doc = scm_to_utf8_string (doc);
  m->cname = strdup (cname);
  m->name = strdup (dname);
  scm_dynwind_end ();

  SCM obj = make_map_object (m, inner);
  SCM key_sym = scm_from_utf8_symbol (m->name);
  SCM old = scm_hashq_ref (registry, key_sym, SCM_BOOL_F);
  if (scm_is_true (old))
    {
      /* Re-declaring a map of the same shape keeps its kernel object (and
         so its data): REPL redefinitions and re-applied policies.  */
      struct gebpf_map *o = scm_foreign_object_ref (old, 0);
      if (o && o->fd >= 0 && gebpf_map_same_shape (o, m))
        m->fd = fcntl (o->fd, F_DUPFD_CLOEXEC, 3);
    }
  scm_hashq_set_x (registry, key_sym, obj);
  return obj;
}
#undef FUNC_NAME

bool
gebpf_map_same_shape (const struct gebpf_map *a, const struct gebpf_map *b)
{
  return a->map_type == b->map_type && a->key_size == b->key_size
    && a->value_size == b->value_size && a->max_entries == b->max_entries
    && a->map_flags == b->map_flags;
}

/* ------------------------------------------------------------------ */
/* Creation.                                                            */

int
gebpf_map_ensure (SCM obj, const char *subr)
{
  struct gebpf_map *m = scm_foreign_object_ref (obj, 0);
  if (!m)
    gebpf_error (gebpf_k_map, subr, 0, "declare the map again",
                 "map object is finalized");
  if (m->fd >= 0)
    return m->fd;
  if (m->closed)
    gebpf_error (gebpf_k_map, subr, 0,
                 "re-declare it with defbpf-map, or reopen the pin with "
                 "bpf-map-open-pinned",
                 "map %s was closed with bpf-map-close!", m->name);

  /* A pinned declaration reuses what is pinned, when it has our shape.  */
  if (m->pin_path)
    {
      int pfd = bpf_obj_get (m->pin_path);
      if (pfd >= 0)
        {
          struct bpf_map_info info;
          __u32 len = sizeof info;
          memset (&info, 0, sizeof info);
          if (bpf_obj_get_info_by_fd (pfd, &info, &len) == 0
              && info.type == m->map_type && info.key_size == m->key_size
              && info.value_size == m->value_size
              && info.max_entries == m->max_entries)
            {
              m->fd = pfd;
              return pfd;
            }
          close (pfd);
          gebpf_error (gebpf_k_map, subr, 0,
                       "unpin the old map (rm the path) or choose another "
                       "#:pin-path",
                       "map %s: %s holds a map of another shape",
                       m->name, m->pin_path);
        }
    }

  LIBBPF_OPTS (bpf_map_create_opts, opts, .map_flags = m->map_flags);
  int inner_fd = -1;
  if (m->kind->flags & K_INNER)
    {
      SCM inner = gebpf_map_lookup (map_inner (obj));
      if (scm_is_false (inner))
        gebpf_error (gebpf_k_map, subr, 0,
                     "declare the inner map with defbpf-map",
                     "map %s: inner map %s is not declared", m->name,
                     gebpf_repr (map_inner (obj)));
      inner_fd = gebpf_map_ensure (inner, subr);
      opts.inner_map_fd = inner_fd;
    }
  if (m->map_type == BPF_MAP_TYPE_BLOOM_FILTER)
    opts.map_extra = 5;         /* hash functions: the kernel's default */

  struct gebpf_map_btf btf = { -1, 0, 0 };
  if (!(m->kind->flags & (K_KEYLESS | K_FDVAL | K_INNER))
      && m->map_type != BPF_MAP_TYPE_STACK_TRACE && !m->hist_keyed
      && gebpf_btf_for_map (m->key, m->value, &btf) == 0)
    {
      opts.btf_fd = btf.fd;
      opts.btf_key_type_id = btf.key_id;
      opts.btf_value_type_id = btf.value_id;
    }
  char kname[16];
  snprintf (kname, sizeof kname, "%s", m->cname);
  int fd = bpf_map_create (m->map_type, kname, m->key_size, m->value_size,
                           m->max_entries, &opts);
  if (fd < 0 && btf.fd >= 0)
    {
      /* BTF is a nicety for open-pinned decoding: never fail for it.  */
      opts.btf_fd = opts.btf_key_type_id = opts.btf_value_type_id = 0;
      fd = bpf_map_create (m->map_type, kname, m->key_size, m->value_size,
                           m->max_entries, &opts);
    }
  int err = errno;
  if (btf.fd >= 0)
    close (btf.fd);
  if (fd < 0)
    {
      char what[256];
      snprintf (what, sizeof what,
                "creating map %s (%s, key %u bytes, value %u bytes, "
                "%u entries)", m->name, m->kind->name, m->key_size,
                m->value_size, m->max_entries);
      const char *fix = err == E2BIG || err == ENOMEM
        ? "lower #:max-entries or the value size"
        : err == EINVAL ? "check #:flags, sizes and max-entries for this "
        "kind of map (bpf-features tells what this kernel supports)"
        : "see the errno above";
      gebpf_syscall_error (gebpf_k_map, subr, err, what, fix);
    }
  m->fd = fd;
  if (m->pin_path)
    {
      gebpf_ensure_bpffs ();
      if (bpf_obj_pin (fd, m->pin_path) < 0)
        {
          err = errno;
          close (fd);
          m->fd = -1;
          gebpf_error (gebpf_k_map, subr, err,
                   "pin under a bpffs mount (/sys/fs/bpf) in a directory "
                   "that exists", "map %s: pinning at %s", m->name,
                   m->pin_path);
        }
    }
  return fd;
}

/* ------------------------------------------------------------------ */
/* Accessors, pinning, closing.                                          */

#define FUNC_NAME s_scm_bpf_map_p
SCM_DEFINE_STATIC (scm_bpf_map_p, "bpf-map?", 1, 0, 0, (SCM obj),
            "Return @code{#t} if @var{obj} is a @code{<bpf-map>}.")
{
  return scm_from_bool (GEBPF_IS (obj, gebpf_map_type));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_info
SCM_DEFINE_STATIC (scm_bpf_map_info, "%bpf-map-info", 1, 0, 0, (SCM map),
            "Return a vector #(NAME KIND KEY-SIZE VALUE-SIZE MAX-ENTRIES FD "
            "PIN-PATH DOC KEY-TYPE VALUE-TYPE FLAGS RECORD-TYPE) describing "
            "@var{map}.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  SCM flags = SCM_EOL;
  for (const struct gebpf_sym *e = flag_syms; e->name; e++)
    if (m->map_flags & e->value)
      flags = scm_cons (scm_from_utf8_symbol (e->name), flags);
  SCM v = scm_c_make_vector (12, SCM_BOOL_F);
  scm_c_vector_set_x (v, 0, scm_from_utf8_string (m->name));
  scm_c_vector_set_x (v, 1, scm_from_utf8_symbol (m->kind->name));
  scm_c_vector_set_x (v, 2, scm_from_uint32 (m->key_size));
  scm_c_vector_set_x (v, 3, scm_from_uint32 (m->value_size));
  scm_c_vector_set_x (v, 4, scm_from_uint32 (m->max_entries));
  scm_c_vector_set_x (v, 5, m->fd >= 0 ? scm_from_int (m->fd) : SCM_BOOL_F);
  scm_c_vector_set_x (v, 6, m->pin_path ? scm_from_utf8_string (m->pin_path)
                      : SCM_BOOL_F);
  scm_c_vector_set_x (v, 7, m->doc ? scm_from_utf8_string (m->doc)
                      : SCM_BOOL_F);
  scm_c_vector_set_x (v, 8, m->hist_keyed ? m->hist_key->spec
                      : m->key ? m->key->spec : SCM_BOOL_F);
  scm_c_vector_set_x (v, 9, m->value ? m->value->spec : SCM_BOOL_F);
  scm_c_vector_set_x (v, 10, scm_reverse (flags));
  scm_c_vector_set_x (v, 11, m->record ? m->record->spec : SCM_BOOL_F);
  return v;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_create_x
SCM_DEFINE_STATIC (scm_bpf_map_create_x, "bpf-map-create!", 1, 0, 0, (SCM map),
            "Create @var{map} in the kernel now (it is otherwise created on "
            "first use) and return its fd.  Raises @code{ebpf-map-error} or "
            "@code{ebpf-permission-error} when the kernel refuses.")
{
  SCM obj = gebpf_map_lookup (map);
  gebpf_map_from_scm (map, FUNC_NAME, 1);
  return scm_from_int (gebpf_map_ensure (obj, FUNC_NAME));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_pin_x
SCM_DEFINE_STATIC (scm_bpf_map_pin_x, "bpf-map-pin!", 1, 1, 0, (SCM map, SCM path),
            "Pin @var{map} at @var{path} (default: its @code{#:pin-path}, "
            "else @file{/sys/fs/bpf/guile-ebpf/NAME}) so it outlives this "
            "process, mounting bpffs if needed.  Return the path.  Raises "
            "@code{ebpf-map-error} when the kernel refuses (e.g. the path "
            "exists).")
{
  SCM obj;
  struct gebpf_map *m = gebpf_map_arg (map, &obj, FUNC_NAME, 1);
  char *p;
  if (!SCM_UNBNDP (path) && !scm_is_string (path))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the path as a string under /sys/fs/bpf",
                 "bad pin path %s for map %s", gebpf_repr (path), m->name);
  if (!SCM_UNBNDP (path))
    p = scm_to_utf8_string (path);
  else if (m->pin_path)
    p = strdup (m->pin_path);
  else
    {
      if (asprintf (&p, "/sys/fs/bpf/guile-ebpf/%s", m->cname) < 0)
        p = NULL;
      mkdir ("/sys/fs/bpf/guile-ebpf", 0700);
    }
  scm_dynwind_begin (0);
  scm_dynwind_free (p);
  int r = gebpf_ensure_bpffs ();
  if (r < 0)
    gebpf_syscall_error (gebpf_k_map, FUNC_NAME, -r,
                         "mounting bpffs at /sys/fs/bpf",
                         "mount it: mount -t bpf bpffs /sys/fs/bpf");
  if (strncmp (p, "/sys/fs/bpf/guile-ebpf/", 23) == 0)
    mkdir ("/sys/fs/bpf/guile-ebpf", 0700);
  /* A map declared with #:pin-path is pinned there when created: pinning
     it there again is a no-op, not an EEXIST.  */
  int fd = GEBPF_MAP_FD (m, obj, FUNC_NAME);
  struct stat st;
  bool already = m->pin_path && strcmp (p, m->pin_path) == 0
    && stat (p, &st) == 0;
  if (!already && bpf_obj_pin (fd, p) < 0)
    {
      char what[300];
      snprintf (what, sizeof what, "pinning map %s at %s", m->name, p);
      int err = errno;
      gebpf_syscall_error (gebpf_k_map, FUNC_NAME, err, what,
                           strncmp (p, "/sys/fs/bpf/", 12) != 0
                           ? "pin under /sys/fs/bpf (a bpffs mount); other "
                           "file systems cannot hold BPF objects"
                           : "choose a path under /sys/fs/bpf that does not "
                           "exist yet (bpf-map-unpin! removes an old pin)");
    }
  if (!m->pin_path)
    m->pin_path = strdup (p);
  SCM out = scm_from_utf8_string (p);
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_unpin_x
SCM_DEFINE_STATIC (scm_bpf_map_unpin_x, "bpf-map-unpin!", 1, 1, 0, (SCM map, SCM path),
            "Remove the pin of @var{map} (at @var{path}, or where it was "
            "pinned).  The map lives on while this process holds it.  "
            "Return @code{#t} if a pin was removed.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  char *p = NULL;
  if (!SCM_UNBNDP (path) && scm_is_string (path))
    p = scm_to_utf8_string (path);
  else if (m->pin_path)
    p = strdup (m->pin_path);
  if (!p)
    return SCM_BOOL_F;
  int r = unlink (p);
  int err = errno;
  if (m->pin_path && strcmp (p, m->pin_path) == 0)
    {
      free (m->pin_path);
      m->pin_path = NULL;
    }
  free (p);
  if (r < 0 && err != ENOENT)
    gebpf_syscall_error (gebpf_k_map, FUNC_NAME, err, "removing the pin",
                         "see the errno above");
  return scm_from_bool (r == 0);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_close_x
SCM_DEFINE_STATIC (scm_bpf_map_close_x, "bpf-map-close!", 1, 0, 0, (SCM map),
            "Close this process's handle on @var{map}.  Idempotent.  Pins "
            "and programs using the map keep it alive in the kernel.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  if (m->fd >= 0)
    close (m->fd);
  m->fd = -1;
  m->closed = true;
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_lookup_name
SCM_DEFINE_STATIC (scm_bpf_map_lookup_name, "bpf-map-lookup", 1, 0, 0, (SCM name),
            "Return the declared map named @var{name} (string or symbol; "
            "@code{-} and @code{_} are one character), or @code{#f}.")
{
  return gebpf_map_lookup (name);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_names
SCM_DEFINE_STATIC (scm_bpf_map_names, "bpf-map-names", 0, 0, 0, (),
            "Return the names of the declared maps, sorted.")
{
  SCM keys = scm_hash_fold (scm_c_eval_string
                            ("(lambda (k v acc) (cons (symbol->string k) acc))"),
                            SCM_EOL, registry);
  return scm_sort_list_x (keys, scm_c_eval_string ("string<?"));
}
#undef FUNC_NAME

SCM
gebpf_map_wrap_fd (int fd, const char *subr, const char *path)
{
  struct bpf_map_info info;
  __u32 len = sizeof info;
  memset (&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
    {
      int err = errno;
      close (fd);
      gebpf_syscall_error (gebpf_k_map, subr, err, "reading map info",
                           "check the path is a pinned map");
    }
  const struct gebpf_map_kind *k = NULL;
  for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++)
    if (e->map_type == info.type)
      {
        k = e;
        break;
      }
  if (!k)
    {
      close (fd);
      gebpf_error (gebpf_k_map, subr, 0,
                   "open it with bpftool; guile-ebpf does not know this kind",
                   "%s: unsupported map type %u", path, info.type);
    }
  struct gebpf_map *m = calloc (1, sizeof *m);
  m->fd = fd;
  m->kind = k;
  m->map_type = info.type;
  m->key_size = info.key_size;
  m->value_size = info.value_size;
  m->max_entries = info.max_entries;
  m->map_flags = info.map_flags;
  m->cname = strdup (info.name[0] ? info.name : "pinned");
  m->name = strdup (m->cname);
  for (char *p = m->name; *p; p++)
    if (*p == '_')
      *p = '-';
  m->pin_path = path ? strdup (path) : NULL;
  struct gebpf_type *kt = NULL, *vt = NULL;
  if (info.btf_id)
    gebpf_btf_types_for_map (info.btf_id, info.btf_key_type_id,
                             info.btf_value_type_id, &kt, &vt);
  m->key = kt && kt->size == m->key_size ? kt
    : m->key_size ? gebpf_type_untyped (m->key_size) : NULL;
  m->value = vt && vt->size == m->value_size ? vt
    : m->value_size ? gebpf_type_untyped (m->value_size) : NULL;
  return make_map_object (m, SCM_BOOL_F);
}

#define FUNC_NAME s_scm_bpf_map_open_pinned
SCM_DEFINE_STATIC (scm_bpf_map_open_pinned, "bpf-map-open-pinned", 1, 0, 0,
            (SCM path),
            "Open the map pinned at @var{path} and return a @code{<bpf-map>} "
            "for it.  Where the map carries BTF, keys and values are decoded "
            "by it (structs as alists); otherwise 1, 2, 4 and 8-byte keys "
            "and values are integers and other sizes bytevectors.  Raises "
            "@code{ebpf-map-error} when nothing is pinned there.")
{
  if (!scm_is_string (path))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the pin's path as a string",
                 "bad path %s", gebpf_repr (path));
  char *p = scm_to_utf8_string (path);
  scm_dynwind_begin (0);
  scm_dynwind_free (p);
  int fd = bpf_obj_get (p);
  if (fd < 0)
    {
      char what[300];
      snprintf (what, sizeof what, "opening pinned map %s", p);
      gebpf_syscall_error (gebpf_k_map, FUNC_NAME, errno, what,
                           "check the path (ls /sys/fs/bpf) and that bpffs is "
                           "mounted");
    }
  SCM obj = gebpf_map_wrap_fd (fd, FUNC_NAME, p);
  scm_dynwind_end ();
  return obj;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_maps
SCM_DEFINE_STATIC (scm_bpf_maps, "bpf-maps", 0, 0, 0, (),
            "Return every map the kernel holds, as bpftool lists them: a "
            "list of alists with @code{id}, @code{name}, @code{kind}, "
            "@code{key-size}, @code{value-size}, @code{max-entries} and "
            "@code{flags}.  Raises @code{ebpf-permission-error} without "
            "privilege.")
{
  SCM out = SCM_EOL;
  __u32 id = 0;
  int fd;
  while ((fd = gebpf_next_kernel_object (bpf_map_get_next_id,
                                         bpf_map_get_fd_by_id, &id,
                                         gebpf_k_map, FUNC_NAME,
                                         "listing kernel maps")) >= 0)
    {
      struct bpf_map_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      int r = bpf_obj_get_info_by_fd (fd, &info, &len);
      close (fd);
      if (r < 0)
        continue;
      const char *kn = "unknown";
      for (const struct gebpf_map_kind *e = gebpf_map_kinds; e->name; e++)
        if (e->map_type == info.type)
          {
            kn = e->name;
            break;
          }
      SCM al = scm_list_n
        (scm_cons (scm_from_utf8_symbol ("id"), scm_from_uint32 (info.id)),
         scm_cons (scm_from_utf8_symbol ("name"),
                   scm_from_utf8_string (info.name)),
         scm_cons (scm_from_utf8_symbol ("kind"), scm_from_utf8_symbol (kn)),
         scm_cons (scm_from_utf8_symbol ("key-size"),
                   scm_from_uint32 (info.key_size)),
         scm_cons (scm_from_utf8_symbol ("value-size"),
                   scm_from_uint32 (info.value_size)),
         scm_cons (scm_from_utf8_symbol ("max-entries"),
                   scm_from_uint32 (info.max_entries)),
         scm_cons (scm_from_utf8_symbol ("flags"),
                   scm_from_uint32 (info.map_flags)),
         SCM_UNDEFINED);
      out = scm_cons (al, out);
    }
  return scm_reverse_x (out, SCM_EOL);
}
#undef FUNC_NAME

void
gebpf_init_map (void)
{
  gebpf_map_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-map"),
                                  scm_list_2 (scm_from_utf8_symbol ("ptr"),
                                              scm_from_utf8_symbol ("inner")),
                                  finalize_map);
  scm_c_define ("<bpf-map>", gebpf_map_type);
  registry = scm_permanent_object (scm_c_make_hash_table (63));
#ifndef SCM_MAGIC_SNARFER
#include "map.x"
#endif
}
