/* map-io.c --- what goes in and out of a <bpf-map>: keys and values
   through the codecs of type.c, element I/O (keyed maps; queues, stacks
   and bloom filters), and whole-map operations (fold, count, clear, set
   all) by the kernel's batch calls, which fall back to
   element-by-element calls by themselves.  Per-CPU values are one
   decoded value per possible CPU.  The declarations these act on are
   map.c's.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"

static const struct gebpf_sym update_syms[] = {
  {"any", BPF_ANY}, {"noexist", BPF_NOEXIST}, {"exist", BPF_EXIST},
  {NULL, 0}
};

/* ------------------------------------------------------------------ */
/* Codecs of keys and values.                                           */

void
gebpf_map_encode_key (struct gebpf_map *m, SCM key, uint8_t *buf,
                      const char *subr)
{
  memset (buf, 0, m->key_size);
  if (m->hist_keyed)
    {
      /* A keyed histogram's key is (KEY . BUCKET) or just KEY (bucket 0).  */
      SCM k = scm_is_pair (key) ? SCM_CAR (key) : key;
      struct gebpf_role role = { "key of map", m->name, NULL };
      gebpf_encode (m->hist_key, k, buf, subr, &role);
      if (scm_is_pair (key))
        {
          if (!scm_is_unsigned_integer (SCM_CDR (key), 0,
                                        GEBPF_HIST_BUCKETS - 1))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "give the bucket as an integer 0..64: (KEY . BUCKET)",
                         "bad histogram bucket %s for map %s (between 0 "
                         "and 64)",
                         gebpf_repr (SCM_CDR (key)), m->name);
          uint32_t slot = scm_to_uint32 (SCM_CDR (key));
          memcpy (buf + (m->hist_key->size + 3) / 4 * 4, &slot, 4);
        }
      return;
    }
  struct gebpf_role role = { "key of map", m->name, NULL };
  gebpf_encode (m->key, key, buf, subr, &role);
}

SCM
gebpf_map_decode_key (struct gebpf_map *m, const uint8_t *buf)
{
  if (m->hist_keyed)
    {
      uint32_t slot;
      memcpy (&slot, buf + (m->hist_key->size + 3) / 4 * 4, 4);
      return scm_cons (gebpf_decode (m->hist_key, buf), scm_from_uint32 (slot));
    }
  return gebpf_decode (m->key, buf);
}

void
gebpf_map_encode_value (SCM obj, struct gebpf_map *m, SCM v, uint8_t *buf,
                        const char *subr)
{
  struct gebpf_role role = { "value of map", m->name, NULL };
  const struct gebpf_role *what = &role;
  if ((m->kind->flags & K_INNER) && (GEBPF_IS (v, gebpf_map_type)))
    {
      /* A map of maps stores the inner map's fd.  */
      uint32_t fd = gebpf_map_ensure (v, subr);
      memcpy (buf, &fd, 4);
      return;
    }
  if (m->map_type == BPF_MAP_TYPE_CGROUP_ARRAY)
    /* Its value is an fd open only for the update: bpf-map-set! opens
       and closes it; a batch would hold many open at once.  */
    gebpf_error (gebpf_k_validation, subr, 0,
                 "set cgroup-array entries one at a time with bpf-map-set!",
                 "map %s is a cgroup-array: %s cannot store cgroups",
                 m->name, subr);
  if (!gebpf_map_percpu (m))
    {
      memset (buf, 0, m->value_size);
      gebpf_encode (m->value, v, buf, subr, what);
      return;
    }
  size_t stride = gebpf_map_value_stride (m);
  int n = gebpf_nr_cpus ();
  memset (buf, 0, stride * n);
  if (scm_is_vector (v) && m->value->kind != GT_ARRAY)
    {
      if (scm_c_vector_length (v) != (size_t) n)
        {
          char fix[128];
          snprintf (fix, sizeof fix, "give one value for all CPUs, or a "
                    "vector of %d values (one per possible CPU)", n);
          gebpf_error (gebpf_k_validation, subr, 0, fix,
                       "value of map %s: vector of %zu values for %d CPUs",
                       m->name, scm_c_vector_length (v), n);
        }
      for (int i = 0; i < n; i++)
        gebpf_encode (m->value, scm_c_vector_ref (v, i), buf + i * stride,
                      subr, what);
    }
  else
    {
      gebpf_encode (m->value, v, buf, subr, what);
      for (int i = 1; i < n; i++)
        memcpy (buf + i * stride, buf, m->value_size);
    }
}

SCM
gebpf_map_decode_value (struct gebpf_map *m, const uint8_t *buf)
{
  if (!gebpf_map_percpu (m))
    return gebpf_decode (m->value, buf);
  size_t stride = gebpf_map_value_stride (m);
  int n = gebpf_nr_cpus ();
  SCM vec = scm_c_make_vector (n, SCM_BOOL_F);
  for (int i = 0; i < n; i++)
    scm_c_vector_set_x (vec, i, gebpf_decode (m->value, buf + i * stride));
  return vec;
}

/* ------------------------------------------------------------------ */
/* Keyed elements.                                                      */

/* Scratch buffers: small on the stack, big ones from the GC (so a throw
   leaks nothing).  */
#define SMALL 512
static uint8_t *
scratch (size_t n, uint8_t *small)
{
  if (n <= SMALL)
    return small;
  return scm_gc_malloc_pointerless (n, "gebpf-scratch");
}

/* Keyless kinds (queue, stack, bloom filter, ring buffer) have no key
   to read or write by.  */
static void
need_key (struct gebpf_map *m, const char *subr)
{
  if (m->kind->flags & K_KEYLESS)
    gebpf_error (gebpf_k_map, subr, 0,
                 "use bpf-map-push!, bpf-map-pop! and bpf-map-peek "
                 "(or bpf-ringbuf-poll for a ring buffer)",
                 "map %s (%s) has no keys", m->name, m->kind->name);
}

/* One keyed element operation: the map and its object, its fd, and the
   key (and room for a value) in scratch buffers.  */
struct elem
{
  SCM obj;
  struct gebpf_map *m;
  int fd;
  uint8_t *kb, *vb;
  uint8_t ksmall[SMALL], vsmall[SMALL];
};

/* The map argument MAP into E; raises for a map without keys.  */
static struct gebpf_map *
elem_map (struct elem *e, SCM map, const char *subr)
{
  e->m = gebpf_map_arg (map, &e->obj, subr, 1);
  need_key (e->m, subr);
  return e->m;
}

/* Then its fd (the kernel map created on first use) and KEY encoded;
   with VALUE, room for one value (every CPU's for a per-CPU map).  */
static void
elem_key (struct elem *e, SCM key, bool value, const char *subr)
{
  e->fd = GEBPF_MAP_FD (e->m, e->obj, subr);
  e->kb = scratch (e->m->key_size, e->ksmall);
  if (value)
    e->vb = scratch (gebpf_map_value_bufsize (e->m), e->vsmall);
  gebpf_map_encode_key (e->m, key, e->kb, subr);
}

/* Look the key up into E->vb: true when present, false when absent;
   any other failure raises ebpf-map-error with FIX.  */
static bool
elem_lookup (struct elem *e, const char *subr, const char *fix)
{
  if (bpf_map_lookup_elem (e->fd, e->kb, e->vb) == 0)
    return true;
  int err = errno;
  if (err == ENOENT)
    return false;
  gebpf_syscall_error (gebpf_k_map, subr, err, "map lookup failed", fix);
}

/* A cgroup-array slot holds a cgroup the kernel never hands back.  */
static void
no_cgroup_lookup (struct gebpf_map *m, const char *subr)
{
  if (m->map_type == BPF_MAP_TYPE_CGROUP_ARRAY)
    gebpf_error (gebpf_k_map, subr, 0,
                 "keep the paths you stored on the Scheme side; test "
                 "membership from a program with (under-cgroup? MAP INDEX)",
                 "map %s is a cgroup-array: the kernel does not return "
                 "its cgroups to user space", m->name);
}

static void
close_fd (void *p)
{
  close (*(int *) p);
}

/* Open PATH, a cgroup2 directory given as the value of cgroup-array M,
   for one update; the caller closes the fd.  PATH comes from the user:
   a NUL byte, a missing path, a non-directory and a directory of
   another file system are refused by name.  */
static int
cgroup_fd (struct gebpf_map *m, SCM path, const char *subr)
{
  const char *fix = "give the path of a cgroup2 directory, e.g. "
    "/sys/fs/cgroup/NAME (mount -t cgroup2 none DIR if there is none)";
  if (!scm_is_string (path))
    gebpf_error (gebpf_k_validation, subr, 0, fix,
                 "value of cgroup-array %s must be a cgroup directory "
                 "path, not %s", m->name, gebpf_repr (path));
  size_t len;
  char *p = scm_to_utf8_stringn (path, &len);
  scm_dynwind_free (p);
  if (len == 0 || memchr (p, 0, len))
    gebpf_error (gebpf_k_validation, subr, 0, fix,
                 "bad cgroup path %s for map %s: %s", gebpf_repr (path),
                 m->name, len ? "it holds a NUL byte" : "it is empty");
  int fd = open (p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int err = errno;
      gebpf_error (gebpf_k_validation, subr, err,
                   err == ENOENT ? "create it (mkdir under the cgroup2 "
                   "mount) or check the path" : fix,
                   "cannot open cgroup %s for map %s", gebpf_repr (path),
                   m->name);
    }
  struct statfs sf;
  if (fstatfs (fd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
    {
      close (fd);
      gebpf_error (gebpf_k_validation, subr, 0, fix,
                   "%s is not a cgroup2 directory (map %s)",
                   gebpf_repr (path), m->name);
    }
  return fd;
}

#define FUNC_NAME s_scm_bpf_map_ref
SCM_DEFINE_STATIC (scm_bpf_map_ref, "bpf-map-ref", 2, 1, 0,
            (SCM map, SCM key, SCM dflt),
            "Return the value stored under @var{key} in @var{map} (a map or "
            "its name), decoded by the map's value type; @var{dflt} (or "
            "@code{#f}) when the key is absent.  For per-CPU maps the value "
            "is a vector with one element per possible CPU.  Creates the "
            "kernel map on first use.  Raises @code{ebpf-validation-error} "
            "for a key that does not fit, @code{ebpf-map-error} when the "
            "kernel fails.")
{
  struct elem e;
  no_cgroup_lookup (elem_map (&e, map, FUNC_NAME), FUNC_NAME);
  elem_key (&e, key, true, FUNC_NAME);
  if (!elem_lookup (&e, FUNC_NAME, "check the map's kind supports lookups "
                    "from user space"))
    return SCM_UNBNDP (dflt) ? SCM_BOOL_F : dflt;
  return gebpf_map_decode_value (e.m, e.vb);
}
#undef FUNC_NAME

static uint64_t
update_flag (SCM flags, const char *subr)
{
  if (SCM_UNBNDP (flags) || scm_is_false (flags))
    return BPF_ANY;
  return gebpf_sym_lookup (update_syms, flags, subr, "update flag");
}

static SCM_NORETURN void
update_error (struct gebpf_map *m, int err, const char *subr)
{
  char what[160];
  snprintf (what, sizeof what, "map %s: update failed", m->name);
  char range[160];
  snprintf (range, sizeof range, "the index is out of range: %s %s holds "
            "indexes 0..%u", m->kind->name, m->name, m->max_entries - 1);
  const char *fix = err == EEXIST ? "the key exists: use #:flags 'any or 'exist"
    : err == ENOENT ? "the key is absent: use #:flags 'any or 'noexist"
    : err == E2BIG && gebpf_map_is_array (m) ? range
    : err == E2BIG ? "the map is full: raise #:max-entries or delete entries"
    : (err == EPERM || err == EACCES) && (m->map_flags & BPF_F_RDONLY)
    ? "the map was declared #:flags '(rdonly): user space cannot write it"
    : err == EINVAL ? "check the key is in range for this kind of map"
    : "see the errno above";
  if ((err == EPERM || err == EACCES) && (m->map_flags & BPF_F_RDONLY))
    gebpf_error (gebpf_k_map, subr, err, fix, "%s", what);
  gebpf_syscall_error (gebpf_k_map, subr, err, what, fix);
}

SCM_KEYWORD (kw_flags, "flags");

#define FUNC_NAME s_scm_bpf_map_set_x
SCM_DEFINE_STATIC (scm_bpf_map_set_x, "bpf-map-set!", 3, 0, 1,
            (SCM map, SCM key, SCM value, SCM rest),
            "Store @var{value} under @var{key} in @var{map}.  Keyword "
            "@code{#:flags} is @code{'any} (default), @code{'noexist} or "
            "@code{'exist}.  For per-CPU maps @var{value} is one value for "
            "every CPU or a vector of one value per possible CPU.  For a "
            "cgroup-array @var{value} is the path of a cgroup2 "
            "directory.  Raises "
            "@code{ebpf-validation-error} for a key or value that does not "
            "fit, @code{ebpf-map-error} when the kernel refuses (key exists "
            "or absent under the flags, map full).")
{
  SCM flags = SCM_UNDEFINED;
  if (!scm_is_null (rest))
    scm_c_bind_keyword_arguments (FUNC_NAME, rest, 0, kw_flags, &flags,
                                  SCM_UNDEFINED);
  struct elem e;
  struct gebpf_map *m = elem_map (&e, map, FUNC_NAME);
  uint64_t fl = update_flag (flags, FUNC_NAME);
  elem_key (&e, key, true, FUNC_NAME);
  if (m->map_type == BPF_MAP_TYPE_CGROUP_ARRAY)
    {
      scm_dynwind_begin (0);
      int fd = cgroup_fd (m, value, FUNC_NAME);
      scm_dynwind_unwind_handler (close_fd, &fd, SCM_F_WIND_EXPLICITLY);
      memcpy (e.vb, &(uint32_t) { fd }, 4);
      if (bpf_map_update_elem (e.fd, e.kb, e.vb, fl) < 0)
        update_error (m, errno, FUNC_NAME);
      scm_dynwind_end ();
      return SCM_UNSPECIFIED;
    }
  gebpf_map_encode_value (e.obj, m, value, e.vb, FUNC_NAME);
  if (bpf_map_update_elem (e.fd, e.kb, e.vb, fl) < 0)
    update_error (m, errno, FUNC_NAME);
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_delete_x
SCM_DEFINE_STATIC (scm_bpf_map_delete_x, "bpf-map-delete!", 2, 0, 0,
            (SCM map, SCM key),
            "Delete @var{key} from @var{map}; return @code{#t} if it was "
            "there, @code{#f} if not.  Raises @code{ebpf-map-error} for "
            "array kinds, whose entries cannot be deleted.")
{
  struct elem e;
  struct gebpf_map *m = elem_map (&e, map, FUNC_NAME);
  if (gebpf_map_is_array (m) && m->map_type != BPF_MAP_TYPE_PROG_ARRAY
      && m->map_type != BPF_MAP_TYPE_PERF_EVENT_ARRAY
      && m->map_type != BPF_MAP_TYPE_ARRAY_OF_MAPS
      && m->map_type != BPF_MAP_TYPE_DEVMAP
      && m->map_type != BPF_MAP_TYPE_CPUMAP
      && m->map_type != BPF_MAP_TYPE_XSKMAP
      && m->map_type != BPF_MAP_TYPE_CGROUP_ARRAY)
    gebpf_error (gebpf_k_map, FUNC_NAME, 0,
                 "set the entry to zero with bpf-map-set! instead",
                 "map %s is an array: its entries cannot be deleted",
                 m->name);
  elem_key (&e, key, false, FUNC_NAME);
  if (bpf_map_delete_elem (e.fd, e.kb) < 0)
    {
      int err = errno;
      if (err == ENOENT)
        return SCM_BOOL_F;
      gebpf_syscall_error (gebpf_k_map, FUNC_NAME, err, "map delete failed",
                           "see the errno above");
    }
  return SCM_BOOL_T;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_contains_p
SCM_DEFINE_STATIC (scm_bpf_map_contains_p, "bpf-map-contains?", 2, 0, 0,
            (SCM map, SCM key),
            "Return @code{#t} if @var{map} holds @var{key}.")
{
  struct elem e;
  no_cgroup_lookup (elem_map (&e, map, FUNC_NAME), FUNC_NAME);
  elem_key (&e, key, true, FUNC_NAME);
  return scm_from_bool (elem_lookup (&e, FUNC_NAME, "see the errno above"));
}
#undef FUNC_NAME

/* Per-CPU struct values decoded as alists (a map opened by its pin,
   with no defbpf-struct of that name here): summed field by field into
   one alist.  */
static SCM
sum_alists (SCM map, SCM v, const char *subr)
{
  SCM sums = SCM_EOL;
  size_t n = scm_c_vector_length (v);
  for (size_t i = 0; i < n; i++)
    {
      SCM a = scm_c_vector_ref (v, i), s = sums;
      for (SCM l = a; scm_is_pair (l); l = SCM_CDR (l))
        {
          SCM x = SCM_CAR (l);
          if (!scm_is_pair (x) || !scm_is_exact_integer (SCM_CDR (x)))
            gebpf_error (gebpf_k_validation, subr, 0,
                         "use bpf-map-ref for per-CPU values that are not "
                         "integers or structs of integers",
                         "values of map %s have fields that are not "
                         "integers", gebpf_repr (map));
          if (i == 0)
            sums = scm_cons (scm_cons (SCM_CAR (x), SCM_CDR (x)), sums);
          else if (scm_is_pair (s))
            {
              SCM_SETCDR (SCM_CAR (s), scm_sum (SCM_CDAR (s), SCM_CDR (x)));
              s = SCM_CDR (s);
            }
        }
      if (i == 0)
        sums = scm_reverse_x (sums, SCM_EOL);
    }
  return sums;
}

/* Per-CPU struct values (packets and bytes counted together, as in
   xdp-tutorial's basic03) summed field by field into one record.  */
static SCM
sum_records (SCM map, SCM v, const char *subr)
{
  SCM first = scm_c_vector_ref (v, 0), vtable = scm_struct_vtable (first);
  size_t nf = SCM_STRUCT_SIZE (first), n = scm_c_vector_length (v);
  SCM sums = scm_c_make_vector (nf, scm_from_int (0));
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < nf; f++)
      {
        SCM x = scm_struct_ref (scm_c_vector_ref (v, i), scm_from_size_t (f));
        if (!scm_is_exact_integer (x))
          gebpf_error (gebpf_k_validation, subr, 0,
                       "use bpf-map-ref for per-CPU values that are not "
                       "integers or structs of integers",
                       "values of map %s have fields that are not integers",
                       gebpf_repr (map));
        scm_c_vector_set_x (sums, f, scm_sum (scm_c_vector_ref (sums, f), x));
      }
  return scm_make_struct_no_tail (vtable, scm_vector_to_list (sums));
}

#define FUNC_NAME s_scm_bpf_map_ref_sum
SCM_DEFINE_STATIC (scm_bpf_map_ref_sum, "bpf-map-ref/sum", 2, 1, 0,
            (SCM map, SCM key, SCM dflt),
            "For a per-CPU map of integer values, return the sum over all "
            "CPUs of the value under @var{key}; @var{dflt} (or 0) when the "
            "key is absent.  For a per-CPU map of struct values whose "
            "fields are integers, a record of the field-wise sums (an alist "
            "when the values decode as alists).  For other maps, the value "
            "itself.")
{
  SCM v = scm_bpf_map_ref (map, key, SCM_UNDEFINED);
  if (scm_is_false (v))
    return SCM_UNBNDP (dflt) ? scm_from_int (0) : dflt;
  if (!scm_is_vector (v))
    return v;
  if (scm_c_vector_length (v) > 0 && SCM_STRUCTP (scm_c_vector_ref (v, 0)))
    return sum_records (map, v, FUNC_NAME);
  if (scm_c_vector_length (v) > 0 && scm_is_pair (scm_c_vector_ref (v, 0))
      && scm_is_pair (SCM_CAR (scm_c_vector_ref (v, 0))))
    return sum_alists (map, v, FUNC_NAME);
  SCM sum = scm_from_int (0);
  size_t n = scm_c_vector_length (v);
  for (size_t i = 0; i < n; i++)
    {
      SCM x = scm_c_vector_ref (v, i);
      if (!scm_is_exact_integer (x))
        gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                     "use bpf-map-ref for per-CPU values that are not "
                     "integers", "values of map %s are not integers",
                     gebpf_repr (map));
      sum = scm_sum (sum, x);
    }
  return sum;
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* Queue, stack and bloom filter.                                       */

static struct gebpf_map *
keyless (SCM map, SCM *obj, const char *subr)
{
  *obj = gebpf_map_lookup (map);
  struct gebpf_map *m = gebpf_map_from_scm (map, subr, 1);
  if (m->map_type == BPF_MAP_TYPE_RINGBUF)
    gebpf_error (gebpf_k_map, subr, 0,
                 "BPF programs write a ring buffer with emit!; read it "
                 "with bpf-ringbuf-poll",
                 "map %s is a ring buffer", m->name);
  if (m->map_type != BPF_MAP_TYPE_QUEUE && m->map_type != BPF_MAP_TYPE_STACK
      && m->map_type != BPF_MAP_TYPE_BLOOM_FILTER)
    gebpf_error (gebpf_k_map, subr, 0,
                 "use bpf-map-ref / bpf-map-set! for keyed maps",
                 "map %s (%s) is not a queue, stack or bloom filter",
                 m->name, m->kind->name);
  return m;
}

#define FUNC_NAME s_scm_bpf_map_push_x
SCM_DEFINE_STATIC (scm_bpf_map_push_x, "bpf-map-push!", 2, 0, 1,
            (SCM map, SCM value, SCM rest),
            "Push @var{value} onto a queue or stack map, or add it to a "
            "bloom filter.  Keyword @code{#:flags 'exist} makes a full queue "
            "or stack drop its oldest element instead of failing.  Raises "
            "@code{ebpf-map-error} when the map is full.")
{
  SCM flags = SCM_UNDEFINED, obj;
  scm_c_bind_keyword_arguments (FUNC_NAME, rest, 0, kw_flags, &flags,
                                SCM_UNDEFINED);
  struct gebpf_map *m = keyless (map, &obj, FUNC_NAME);
  uint64_t fl = update_flag (flags, FUNC_NAME);
  int fd = GEBPF_MAP_FD (m, obj, FUNC_NAME);
  uint8_t vsmall[SMALL];
  uint8_t *vb = scratch (m->value_size, vsmall);
  gebpf_map_encode_value (obj, m, value, vb, FUNC_NAME);
  if (bpf_map_update_elem (fd, NULL, vb, fl) < 0)
    update_error (m, errno, FUNC_NAME);
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

static SCM
pop_or_peek (SCM map, SCM value, bool pop, const char *subr)
{
  SCM obj;
  struct gebpf_map *m = keyless (map, &obj, subr);
  int fd = GEBPF_MAP_FD (m, obj, subr);
  uint8_t vsmall[SMALL];
  uint8_t *vb = scratch (m->value_size, vsmall);
  if (m->map_type == BPF_MAP_TYPE_BLOOM_FILTER)
    {
      if (pop || SCM_UNBNDP (value))
        gebpf_error (gebpf_k_map, subr, 0,
                     "ask a bloom filter with (bpf-map-peek MAP VALUE)",
                     "map %s is a bloom filter", m->name);
      gebpf_map_encode_value (obj, m, value, vb, subr);
      if (bpf_map_lookup_elem (fd, NULL, vb) == 0)
        return SCM_BOOL_T;
      if (errno == ENOENT)
        return SCM_BOOL_F;
      gebpf_syscall_error (gebpf_k_map, subr, errno, "bloom lookup failed",
                           "see the errno above");
    }
  int r = pop ? bpf_map_lookup_and_delete_elem (fd, NULL, vb)
    : bpf_map_lookup_elem (fd, NULL, vb);
  if (r < 0)
    {
      if (errno == ENOENT)
        return SCM_BOOL_F;
      gebpf_syscall_error (gebpf_k_map, subr, errno, "queue/stack read failed",
                           "see the errno above");
    }
  return gebpf_map_decode_value (m, vb);
}

#define FUNC_NAME s_scm_bpf_map_pop_x
SCM_DEFINE_STATIC (scm_bpf_map_pop_x, "bpf-map-pop!", 1, 0, 0, (SCM map),
            "Remove and return the next element of a queue (oldest) or "
            "stack (newest) map; @code{#f} when it is empty.")
{
  return pop_or_peek (map, SCM_UNDEFINED, true, FUNC_NAME);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_peek
SCM_DEFINE_STATIC (scm_bpf_map_peek, "bpf-map-peek", 1, 1, 0, (SCM map, SCM value),
            "Return the next element of a queue or stack map without "
            "removing it (@code{#f} when empty).  For a bloom filter, "
            "return whether @var{value} may be in it.")
{
  return pop_or_peek (map, value, false, FUNC_NAME);
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* Whole-map operations.                                                */

#define BATCH 4096

static bool
iterable (struct gebpf_map *m, const char *subr)
{
  if (m->kind->flags & K_NOITER)
    gebpf_error (gebpf_k_map, subr, 0,
                 "drain a queue or stack with bpf-map-pop!, read a ring "
                 "buffer with bpf-ringbuf-poll",
                 "map %s (%s) cannot be iterated", m->name, m->kind->name);
  return true;
}

/* Call PROC for every (key value) by batch lookups; return false without
   calling anything when the kernel has no batch call for this map.  With
   EACH a procedure, a batch is decoded into two vectors and handed to
   (EACH KEYS VALUES COUNT ACC), which folds PROC over them in Scheme:
   one crossing from C into Scheme per batch instead of one per entry,
   which cost as much as the kernel's lookup of the entry.  */
static bool
fold_batch (struct gebpf_map *m, int fd, SCM proc, SCM each, SCM *acc)
{
  size_t vsz = gebpf_map_value_bufsize (m);
  uint8_t *keys = malloc ((size_t) BATCH * m->key_size);
  uint8_t *vals = malloc ((size_t) BATCH * vsz);
  uint64_t token_in[64], token_out[64];
  bool first = true, ok = true;
  /* Refilled by every batch: EACH (fold-batch in map.scm) keeps neither
     vector, only what PROC returns.  */
  SCM kv = SCM_BOOL_F, vv = SCM_BOOL_F;
  if (scm_is_true (each))
    {
      kv = scm_c_make_vector (BATCH, SCM_BOOL_F);
      vv = scm_c_make_vector (BATCH, SCM_BOOL_F);
    }
  if (!keys || !vals)
    {
      free (keys);
      free (vals);
      return false;
    }
  scm_dynwind_begin (0);
  scm_dynwind_free (keys);
  scm_dynwind_free (vals);
  for (;;)
    {
      __u32 count = BATCH;
      LIBBPF_OPTS (bpf_map_batch_opts, opts);
      int r = bpf_map_lookup_batch (fd, first ? NULL : token_in, token_out,
                                    keys, vals, &count, &opts);
      int err = r < 0 ? errno : 0;
      if (r < 0 && err != ENOENT)
        {
          if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP
                        || err == ENOTSUPP_ERRNO))
            {
              ok = false;
              break;
            }
          gebpf_syscall_error (gebpf_k_map, "bpf-map-fold", err,
                               "batch lookup failed", "see the errno above");
        }
      first = false;
      if (scm_is_true (each) && count > 0)
        {
          for (__u32 i = 0; i < count; i++)
            {
              SCM_SIMPLE_VECTOR_SET (kv, i, gebpf_map_decode_key
                                     (m, keys + i * m->key_size));
              SCM_SIMPLE_VECTOR_SET (vv, i, gebpf_map_decode_value
                                     (m, vals + i * vsz));
            }
          *acc = scm_call_4 (each, kv, vv, scm_from_uint32 (count), *acc);
        }
      else
        for (__u32 i = 0; i < count; i++)
          *acc = scm_call_3 (proc, gebpf_map_decode_key (m, keys + i * m->key_size),
                             gebpf_map_decode_value (m, vals + i * vsz), *acc);
      if (err == ENOENT)
        break;
      memcpy (token_in, token_out, sizeof token_in);
    }
  scm_dynwind_end ();
  return ok;
}

static void
fold_elementwise (struct gebpf_map *m, int fd, SCM proc, SCM *acc,
                  const char *subr)
{
  uint8_t *cur = scm_gc_malloc_pointerless (m->key_size, "k");
  uint8_t *next = scm_gc_malloc_pointerless (m->key_size, "k");
  uint8_t *val = scm_gc_malloc_pointerless (gebpf_map_value_bufsize (m), "v");
  bool first = true;
  for (;;)
    {
      if (bpf_map_get_next_key (fd, first ? NULL : cur, next) < 0)
        {
          if (errno == ENOENT)
            return;
          gebpf_syscall_error (gebpf_k_map, subr, errno,
                               "iterating the map failed",
                               "see the errno above");
        }
      first = false;
      memcpy (cur, next, m->key_size);
      if (bpf_map_lookup_elem (fd, cur, val) < 0)
        {
          if (errno == ENOENT)
            continue;             /* deleted under our feet */
          gebpf_syscall_error (gebpf_k_map, subr, errno, "map lookup failed",
                               "see the errno above");
        }
      *acc = scm_call_3 (proc, gebpf_map_decode_key (m, cur),
                         gebpf_map_decode_value (m, val), *acc);
    }
}

/* Kinds whose values cannot be read back from user space as data.  */
static bool
readable_values (struct gebpf_map *m)
{
  return !(m->map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY
           || m->map_type == BPF_MAP_TYPE_PROG_ARRAY
           || m->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS
           || m->map_type == BPF_MAP_TYPE_HASH_OF_MAPS
           || m->map_type == BPF_MAP_TYPE_CGROUP_ARRAY);
}

#define FUNC_NAME s_scm_bpf_map_fold_internal
SCM_DEFINE_STATIC (scm_bpf_map_fold_internal, "%bpf-map-fold", 4, 1, 0,
            (SCM proc, SCM init, SCM map, SCM batch, SCM each),
            "Fold @var{proc} (key value acc) over @var{map} starting from "
            "@var{init}; with @var{batch} true, use the kernel's batch "
            "lookup when it has one.  With @var{each}, a procedure "
            "@code{(each keys values count acc)}, hand it each batch "
            "decoded as two vectors instead of calling @var{proc} from "
            "C.")
{
  SCM obj;
  struct gebpf_map *m = gebpf_map_arg (map, &obj, "bpf-map-fold", 3);
  if (scm_is_false (scm_procedure_p (proc)))
    gebpf_error (gebpf_k_validation, "bpf-map-fold", 0,
                 "pass a procedure of (key value acc)",
                 "%s is not a procedure", gebpf_repr (proc));
  iterable (m, "bpf-map-fold");
  if (!readable_values (m))
    gebpf_error (gebpf_k_map, "bpf-map-fold", 0,
                 "iterate keys of such maps from BPF programs instead",
                 "map %s (%s) holds kernel objects, not data", m->name,
                 m->kind->name);
  if (SCM_UNBNDP (each))
    each = SCM_BOOL_F;
  int fd = GEBPF_MAP_FD (m, obj, "bpf-map-fold");
  SCM acc = init;
  if (scm_is_true (batch) && m->map_type != BPF_MAP_TYPE_LPM_TRIE
      && m->map_type != BPF_MAP_TYPE_STACK_TRACE
      && fold_batch (m, fd, proc, each, &acc))
    return acc;
  fold_elementwise (m, fd, proc, &acc, "bpf-map-fold");
  return acc;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_count
SCM_DEFINE_STATIC (scm_bpf_map_count, "bpf-map-count", 1, 0, 0, (SCM map),
            "Return the number of entries in @var{map}: the keys present "
            "in a hash-like map, @code{max-entries} for an array.")
{
  SCM obj;
  struct gebpf_map *m = gebpf_map_arg (map, &obj, FUNC_NAME, 1);
  iterable (m, FUNC_NAME);
  int fd = GEBPF_MAP_FD (m, obj, FUNC_NAME);
  if (gebpf_map_is_array (m))
    return scm_from_uint32 (m->max_entries);
  uint8_t *cur = scm_gc_malloc_pointerless (m->key_size, "k");
  uint8_t *next = scm_gc_malloc_pointerless (m->key_size, "k");
  size_t n = 0;
  bool first = true;
  while (bpf_map_get_next_key (fd, first ? NULL : cur, next) == 0)
    {
      first = false;
      memcpy (cur, next, m->key_size);
      n++;
    }
  if (errno != ENOENT)
    gebpf_syscall_error (gebpf_k_map, FUNC_NAME, errno,
                         "iterating the map failed", "see the errno above");
  return scm_from_size_t (n);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_clear_x
SCM_DEFINE_STATIC (scm_bpf_map_clear_x, "%bpf-map-clear!", 2, 0, 0,
            (SCM map, SCM batch),
            "Remove every entry of @var{map} (zero every element of an "
            "array; drain a queue or stack).  With @var{batch} true, use "
            "the kernel's batch delete when it has one.")
{
  SCM obj;
  struct gebpf_map *m = gebpf_map_arg (map, &obj, "bpf-map-clear!", 1);
  int fd = GEBPF_MAP_FD (m, obj, "bpf-map-clear!");
  size_t vsz = gebpf_map_value_bufsize (m);
  if (m->map_type == BPF_MAP_TYPE_QUEUE || m->map_type == BPF_MAP_TYPE_STACK)
    {
      uint8_t *vb = scm_gc_malloc_pointerless (vsz, "v");
      while (bpf_map_lookup_and_delete_elem (fd, NULL, vb) == 0)
        ;
      return SCM_UNSPECIFIED;
    }
  iterable (m, "bpf-map-clear!");
  if (gebpf_map_is_array (m))
    {
      uint8_t *zero = scm_gc_malloc_pointerless (vsz, "v");
      memset (zero, 0, vsz);
      for (uint32_t i = 0; i < m->max_entries; i++)
        {
          int r = readable_values (m) ? bpf_map_update_elem (fd, &i, zero, 0)
            : bpf_map_delete_elem (fd, &i);
          if (r < 0 && errno != ENOENT)
            gebpf_syscall_error (gebpf_k_map, "bpf-map-clear!", errno,
                                 "clearing the map failed",
                                 "see the errno above");
        }
      return SCM_UNSPECIFIED;
    }
  /* Collect the keys first, then delete them (batch where we may).  A
     program may refill the map meanwhile: stop after enough rounds to
     have emptied a full map once, rather than chase it forever.  */
  for (uint32_t round = 0; round <= m->max_entries / BATCH + 2; round++)
    {
      uint8_t *keys = scm_gc_malloc_pointerless ((size_t) BATCH * m->key_size,
                                                 "keys");
      uint8_t *cur = scm_gc_malloc_pointerless (m->key_size, "k");
      __u32 n = 0;
      bool first = true;
      while (n < BATCH
             && bpf_map_get_next_key (fd, first ? NULL : cur,
                                      keys + (size_t) n * m->key_size) == 0)
        {
          memcpy (cur, keys + (size_t) n * m->key_size, m->key_size);
          first = false;
          n++;
        }
      if (n == 0)
        return SCM_UNSPECIFIED;
      __u32 done = n;
      LIBBPF_OPTS (bpf_map_batch_opts, opts);
      if (!(scm_is_true (batch) && m->map_type != BPF_MAP_TYPE_LPM_TRIE
            && bpf_map_delete_batch (fd, keys, &done, &opts) == 0
            && done == n))
        for (__u32 i = 0; i < n; i++)
          if (bpf_map_delete_elem (fd, keys + (size_t) i * m->key_size) < 0
              && errno != ENOENT)
            gebpf_syscall_error (gebpf_k_map, "bpf-map-clear!", errno,
                                 "deleting an entry failed",
                                 "see the errno above");
    }
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_set_all_x
SCM_DEFINE_STATIC (scm_bpf_map_set_all_x, "%bpf-map-set-all!", 3, 0, 0,
            (SCM map, SCM alist, SCM batch),
            "Store every @code{(key . value)} of @var{alist} in @var{map}; "
            "with @var{batch} true, by the kernel's batch update when it "
            "has one.  Return the number of entries stored.")
{
  SCM obj;
  struct gebpf_map *m = gebpf_map_arg (map, &obj, "bpf-map-set-all!", 1);
  need_key (m, "bpf-map-set-all!");
  long total = scm_ilength (alist);
  if (total < 0)
    gebpf_error (gebpf_k_validation, "bpf-map-set-all!", 0,
                 "give a proper list of (key . value) pairs",
                 "not a list: %s", gebpf_repr (alist));
  int fd = GEBPF_MAP_FD (m, obj, "bpf-map-set-all!");
  size_t vsz = gebpf_map_value_bufsize (m);
  size_t chunk = total < BATCH ? (size_t) (total ? total : 1) : BATCH;
  uint8_t *keys = scm_gc_malloc_pointerless (chunk * m->key_size, "keys");
  uint8_t *vals = scm_gc_malloc_pointerless (chunk * vsz, "vals");
  bool use_batch = scm_is_true (batch) && m->map_type != BPF_MAP_TYPE_LPM_TRIE;
  SCM l = alist;
  while (scm_is_pair (l))
    {
      __u32 n = 0;
      for (; n < chunk && scm_is_pair (l); l = SCM_CDR (l), n++)
        {
          SCM e = SCM_CAR (l);
          if (!scm_is_pair (e))
            gebpf_error (gebpf_k_validation, "bpf-map-set-all!", 0,
                         "give a list of (key . value) pairs",
                         "not a (key . value) pair: %s", gebpf_repr (e));
          gebpf_map_encode_key (m, SCM_CAR (e), keys + n * m->key_size,
                                "bpf-map-set-all!");
          gebpf_map_encode_value (obj, m, SCM_CDR (e), vals + n * vsz,
                                  "bpf-map-set-all!");
        }
      __u32 done = n;
      LIBBPF_OPTS (bpf_map_batch_opts, opts);
      if (use_batch && bpf_map_update_batch (fd, keys, vals, &done, &opts) == 0)
        continue;
      int err = errno;
      if (use_batch && err != EINVAL && err != ENOTSUP && err != EOPNOTSUPP
          && err != ENOTSUPP_ERRNO)
        update_error (m, err, "bpf-map-set-all!");
      /* No batch call here, or it stopped part way: finish one by one.  */
      __u32 start = use_batch && done < n ? done : 0;
      use_batch = false;
      for (__u32 i = start; i < n; i++)
        if (bpf_map_update_elem (fd, keys + i * m->key_size, vals + i * vsz,
                                 BPF_ANY) < 0)
          update_error (m, errno, "bpf-map-set-all!");
    }
  return scm_from_long (total);
}
#undef FUNC_NAME

void
gebpf_init_map_io (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "map-io.x"
#endif
}
