/* ringbuf.c --- events into Scheme: ring buffers and perf buffers.

   A <bpf-ringbuf-reader> holds libbpf's ring_buffer over one ringbuf
   map.  Taking records consumes what the ring holds, at most MAX per
   call: libbpf calls back into C for each record, which decodes it by
   the map's record type (its #:value, else the type emit! writes into
   it, else a bytevector) and stores it in a vector.  The handler is
   called by Scheme afterwards, never from inside libbpf, so a handler
   that raises cannot unwind through libbpf.  Waiting happens outside
   Guile mode (epoll on the ring's fd, or a plain sleep for a consumer
   that drains on an interval), so a consumer thread blocked there never
   holds up the garbage collector.

   emit! counts the records a full ring refused in a control map beside
   each ring buffer, gebpf_rbctl_NAME: a two-slot per-CPU array whose
   slot 0 counts dropped records and whose slot 1 holds the flags emit!
   passes to bpf_ringbuf_output (0, or BPF_RB_NO_WAKEUP while a consumer
   drains on an interval).  The emitter names it in its C and lists it
   among the helper maps its lowering needs; the lowering driver
   declares it, like any map, the first time, so every program that
   emits into one ring shares one control map.

   A <bpf-perf-reader> does the same for a perf-event-array map with
   libbpf's perf_buffer, and counts the samples the kernel lost.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"
#include "lower/lower.h"

static SCM reader_type;         /* <bpf-ringbuf-reader> */
static SCM perf_reader_type;    /* <bpf-perf-reader> */
static SCM make_map_proc;       /* %make-bpf-map */
static SCM emit_types;          /* hash: map name symbol -> type pointer */

/* ------------------------------------------------------------------ */
/* What emit! writes: noted by the emitter, read by the readers.        */

#define CTL_PREFIX GEBPF_RBCTL_PREFIX

/* The control map of ring buffer M, declared now if DECLARE and it does
   not exist yet; #f otherwise.  */
static SCM
control_map (struct gebpf_map *m, bool declare)
{
  char *cn = NULL;
  if (asprintf (&cn, CTL_PREFIX "%s", m->cname) < 0)
    return SCM_BOOL_F;
  SCM name = scm_from_utf8_string (cn);
  free (cn);
  SCM ctl = gebpf_map_lookup (name);
  if (scm_is_true (ctl) || !declare)
    return ctl;
  char *doc = NULL;
  if (asprintf (&doc, "Records dropped (slot 0) and output flags (slot 1) "
                "of emit! into ring buffer %s.", m->name) < 0)
    doc = NULL;
  SCM args[10] = {
    name, scm_from_utf8_symbol ("per-cpu-array"),
    scm_from_utf8_symbol ("u32"), SCM_BOOL_F,
    scm_from_utf8_symbol ("u64"), SCM_BOOL_F, scm_from_int (2),
    SCM_BOOL_F, SCM_BOOL_F,
    scm_list_2 (SCM_BOOL_F, doc ? scm_from_utf8_string (doc) : SCM_BOOL_F)
  };
  free (doc);
  return scm_call_n (make_map_proc, args, 10);
}

const char *gebpf_ringbuf_emit_note (SCM map, const struct gebpf_type *t);

/* Called by the lowering driver for each emit! and perf-emit! lowered: note T,
   the type written into MAP, for decoding; for a ring buffer return the
   C name of its control map (declared on first use), else NULL.  */
const char *
gebpf_ringbuf_emit_note (SCM map, const struct gebpf_type *t)
{
  struct gebpf_map *m = gebpf_map_from_scm (map, "emit!", 1);
  scm_hashq_set_x (emit_types, scm_from_utf8_symbol (m->name),
                   scm_from_pointer ((void *) t, NULL));
  if (m->map_type != BPF_MAP_TYPE_RINGBUF)
    return NULL;
  control_map (m, true);
  char *cn = NULL;
  if (asprintf (&cn, CTL_PREFIX "%s", m->cname) < 0)
    return CTL_PREFIX "?";
  char *out = scm_gc_strdup (cn, "ctl-name");
  free (cn);
  return out;
}

/* The type the records of the map named NAME (kebab spelling) with
   declared record type RECORD decode by, or NULL for bytevectors.  */
static const struct gebpf_type *
record_type (const char *name, const struct gebpf_type *record)
{
  if (record)
    return record;
  SCM hit = scm_hashq_ref (emit_types, scm_from_utf8_symbol (name),
                           SCM_BOOL_F);
  return scm_is_true (hit) ? scm_to_pointer (hit) : NULL;
}

static SCM
decode_record (const struct gebpf_type *t, const void *data, size_t size)
{
  if (t && size >= t->size && t->kind == GT_STRUCT && scm_is_true (t->rtd)
      && t->nfields <= 32)
    {
      /* The record straight from its fields: no argument list to
         allocate (records arrive by the million).  */
      scm_t_bits inits[32];
      for (size_t i = 0; i < t->nfields; i++)
        inits[i] = SCM_UNPACK (gebpf_decode (t->fields[i].type,
                                             (const uint8_t *) data
                                             + t->fields[i].offset));
      return scm_c_make_structv (t->rtd, 0, t->nfields, inits);
    }
  if (t && size >= t->size)
    return gebpf_decode (t, data);
  SCM bv = scm_c_make_bytevector (size);
  memcpy (SCM_BYTEVECTOR_CONTENTS (bv), data, size);
  return bv;
}

#define FUNC_NAME s_scm_bpf_ringbuf_control
SCM_DEFINE_STATIC (scm_bpf_ringbuf_control, "%bpf-ringbuf-control", 2, 0, 0,
                   (SCM map, SCM declare),
                   "Return the control map of ring buffer @var{map} (where "
                   "@code{emit!} counts dropped records and reads its "
                   "output flags), declaring it if @var{declare} is true; "
                   "@code{#f} when there is none.  Raises "
                   "@code{ebpf-validation-error} if @var{map} is not a "
                   "ringbuf map.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  if (m->map_type != BPF_MAP_TYPE_RINGBUF)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give a map declared with #:kind 'ringbuf",
                 "map %s is a %s, not a ring buffer", m->name, m->kind->name);
  return control_map (m, scm_is_true (declare));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_record_type
SCM_DEFINE_STATIC (scm_bpf_record_type, "%bpf-record-type", 1, 0, 0,
                   (SCM map),
                   "Return the @code{<bpf-type>} the records of @var{map} "
                   "(a ringbuf or perf-event-array map) are decoded by: its "
                   "declared @code{#:value}, else the type loaded programs "
                   "@code{emit!} into it; @code{#f} when records stay "
                   "bytevectors.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  const struct gebpf_type *t = record_type (m->name, m->record);
  return t ? t->object : SCM_BOOL_F;
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* Waiting outside Guile mode.                                          */

struct wait
{
  int epfd;                     /* -1: just sleep */
  int ms;
  int r, err;
};

static void *
do_wait (void *p)
{
  struct wait *w = p;
  if (w->epfd < 0)
    {
      struct timespec ts = { w->ms / 1000, (long) (w->ms % 1000) * 1000000 };
      w->r = nanosleep (&ts, NULL);
      w->err = errno;
      return NULL;
    }
  struct epoll_event ev[8];
  w->r = epoll_wait (w->epfd, ev, 8, w->ms);
  w->err = errno;
  return NULL;
}

/* Wait up to MS milliseconds (-1: for ever) for EPFD to be readable, or
   sleep MS when EPFD is -1.  The wait is cut in slices of at most 100 ms
   between which Guile runs its asyncs, so Ctrl-C at the REPL and thread
   cancellation get through a long wait.  */
#define SLICE_MS 100

static void
wait_outside (int epfd, int ms)
{
  int left = ms;
  while (left != 0)
    {
      int slice = left < 0 || left > SLICE_MS ? SLICE_MS : left;
      struct wait w = { epfd, slice, 0, 0 };
      scm_without_guile (do_wait, &w);
      if (epfd >= 0 && w.r > 0)
        return;
      if (left > 0)
        left -= slice;
      scm_async_tick ();
    }
}

static int
timeout_arg (SCM timeout, const char *subr)
{
  if (scm_is_false (timeout))
    return 0;
  if (!scm_is_signed_integer (timeout, -1, INT32_MAX))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give #:timeout-ms as milliseconds (0: do not wait, -1: "
                 "wait for ever)", "bad timeout %s (between -1 and 2^31-1)",
                 gebpf_repr (timeout));
  return scm_to_int (timeout);
}

static long
max_arg (SCM max, const char *subr)
{
  if (!scm_is_unsigned_integer (max, 1, INT32_MAX))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give #:max as a positive count of records",
                 "bad record count %s (between 1 and 2^31-1)",
                 gebpf_repr (max));
  return scm_to_long (max);
}

/* ------------------------------------------------------------------ */
/* Ring buffers.                                                        */

/* Returned by the record callback when a take is full: libbpf then
   stores the consumer position past the record and stops.  */
#define TAKE_FULL (-ECANCELED)

struct take
{
  SCM list;                     /* decoded records, newest first */
  long n, max;
  const struct gebpf_type *type;
  bool tail;                    /* perf: (RECORD . BYTES AFTER IT) */
};

/* A ring buffer take fills a vector, not a list: one object for the
   collector to trace instead of a pair per record (the collector's
   marking is most of what a full ring of small records costs).  */
struct vtake
{
  SCM vec;                      /* records 0 .. n-1, oldest first */
  long n, cap, max;
  const struct gebpf_type *type;
};

/* Room for one more record in T's vector, doubling it up to T->max.  */
static void
vtake_grow (struct vtake *t)
{
  long cap = t->cap ? t->cap * 2 : 64;
  if (cap > t->max)
    cap = t->max;
  SCM v = scm_c_make_vector (cap, SCM_BOOL_F);
  for (long i = 0; i < t->n; i++)
    SCM_SIMPLE_VECTOR_SET (v, i, SCM_SIMPLE_VECTOR_REF (t->vec, i));
  t->vec = v;
  t->cap = cap;
}

/* Readers keep what decoding needs of their map (types live for ever),
   not the map object: foreign object slots are not traced by the GC.  */
struct reader
{
  char *name;                   /* the map's kebab name */
  const struct gebpf_type *record;
  struct ring_buffer *rb;
  struct vtake *take;           /* during a take only */
  uint64_t taken;               /* records taken since the reader opened */
  long last;                    /* records the last take returned */
};

static int
on_record (void *ctx, void *data, size_t size)
{
  struct reader *r = ctx;
  struct vtake *t = r->take;
  if (t->n == t->cap)
    vtake_grow (t);
  SCM_SIMPLE_VECTOR_SET (t->vec, t->n, decode_record (t->type, data, size));
  return ++t->n >= t->max ? TAKE_FULL : 0;
}

static void
finalize_reader (SCM obj)
{
  struct reader *r = scm_foreign_object_ref (obj, 0);
  if (!r)
    return;
  if (r->rb)
    ring_buffer__free (r->rb);
  free (r->name);
  free (r);
  scm_foreign_object_set_x (obj, 0, NULL);
}

static struct reader *
reader_arg (SCM obj, const char *subr)
{
  if (!GEBPF_IS (obj, reader_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass the ring buffer map itself to bpf-ringbuf-poll",
                 "not a ring buffer reader: %s", gebpf_repr (obj));
  struct reader *r = scm_foreign_object_ref (obj, 0);
  if (!r || !r->rb)
    gebpf_error (gebpf_k_error, subr, 0,
                 "open the ring buffer again (bpf-ringbuf-poll does)",
                 "the ring buffer reader is closed");
  return r;
}

#define FUNC_NAME s_scm_bpf_ringbuf_open
SCM_DEFINE_STATIC (scm_bpf_ringbuf_open, "%bpf-ringbuf-open", 1, 0, 0,
                   (SCM map),
                   "Open a reader on ring buffer @var{map} (created in the "
                   "kernel if needed) and return it.  Raises "
                   "@code{ebpf-validation-error} for a map of another kind "
                   "and @code{ebpf-map-error} when libbpf cannot map the "
                   "ring.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  if (m->map_type != BPF_MAP_TYPE_RINGBUF)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 m->map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY
                 ? "use bpf-perf-poll for a perf-event-array map"
                 : "give a map declared with #:kind 'ringbuf",
                 "map %s is a %s, not a ring buffer", m->name, m->kind->name);
  SCM obj = gebpf_map_lookup (map);
  int fd = gebpf_map_ensure (scm_is_true (obj) ? obj : map, FUNC_NAME);
  struct reader *r = calloc (1, sizeof *r);
  if (!r)
    gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                 "ring buffer reader of %s", m->name);
  r->rb = ring_buffer__new (fd, on_record, r, NULL);
  if (!r->rb)
    {
      int err = errno;
      free (r);
      char what[200];
      snprintf (what, sizeof what, "mapping ring buffer %s", m->name);
      gebpf_syscall_error (gebpf_k_map, FUNC_NAME, err, what,
                           "check the map is a live ring buffer (the "
                           "kernel needs 5.8 or later)");
    }
  r->name = strdup (m->name);
  r->record = m->record;
  return scm_make_foreign_object_1 (reader_type, r);
}
#undef FUNC_NAME

SCM_SYMBOL (sym_wait, "wait");
SCM_SYMBOL (sym_sleep, "sleep");

#define FUNC_NAME s_scm_bpf_ringbuf_take
SCM_DEFINE_STATIC (scm_bpf_ringbuf_take, "%bpf-ringbuf-take", 4, 0, 0,
                   (SCM reader, SCM timeout, SCM max, SCM how),
                   "Take at most @var{max} records from @var{reader} and "
                   "return them decoded in a vector, oldest first.  With @var{how} "
                   "@code{wait}, when the ring is empty wait up to "
                   "@var{timeout} milliseconds (-1: for ever) for a "
                   "wake-up, then take what came; with @code{sleep}, sleep "
                   "@var{timeout} milliseconds first, then take (for rings "
                   "whose producers do not wake consumers).  Raises "
                   "@code{ebpf-map-error} when libbpf fails.")
{
  struct reader *r = reader_arg (reader, FUNC_NAME);
  int ms = timeout_arg (timeout, FUNC_NAME);
  struct vtake t = { SCM_BOOL_F, 0, 0, max_arg (max, FUNC_NAME),
                     record_type (r->name, r->record) };
  /* A busy ring fills take after take: start at the last take's size,
     so a drain does not grow (and copy) its vector every time.  */
  if (r->last > 64)
    {
      t.cap = r->last < t.max ? r->last : t.max;
      t.vec = scm_c_make_vector (t.cap, SCM_BOOL_F);
    }
  bool sleep_first = scm_is_eq (how, sym_sleep);
  if (sleep_first)
    wait_outside (-1, ms);
  r->take = &t;
  int n = ring_buffer__consume (r->rb);
  if (n == 0 && t.n == 0 && !sleep_first && ms != 0)
    {
      /* The wait may unwind (an async): no take is current meanwhile.  */
      r->take = NULL;
      wait_outside (ring_buffer__epoll_fd (r->rb), ms);
      r->take = &t;
      n = ring_buffer__consume (r->rb);
    }
  r->take = NULL;
  r->taken += t.n;
  r->last = t.n;
  if (n < 0 && n != TAKE_FULL)
    gebpf_syscall_error (gebpf_k_map, FUNC_NAME, -n, "reading ring buffer",
                         "see the errno above");
  if (t.n == t.cap && t.n > 0)
    return t.vec;
  SCM out = scm_c_make_vector (t.n, SCM_BOOL_F);
  for (long i = 0; i < t.n; i++)
    SCM_SIMPLE_VECTOR_SET (out, i, SCM_SIMPLE_VECTOR_REF (t.vec, i));
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_ringbuf_reader_info
SCM_DEFINE_STATIC (scm_bpf_ringbuf_reader_info, "%bpf-ringbuf-reader-info",
                   1, 0, 0, (SCM reader),
                   "Return @code{(EPOLL-FD . TAKEN)} for @var{reader}: the "
                   "fd that becomes readable when the ring is woken, and "
                   "the number of records taken so far.")
{
  struct reader *r = reader_arg (reader, FUNC_NAME);
  return scm_cons (scm_from_int (ring_buffer__epoll_fd (r->rb)),
                   scm_from_uint64 (r->taken));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_ringbuf_close_x
SCM_DEFINE_STATIC (scm_bpf_ringbuf_close_x, "%bpf-ringbuf-close!", 1, 0, 0,
                   (SCM reader),
                   "Release the ring buffer mapping of @var{reader}.  "
                   "Idempotent.")
{
  if (!GEBPF_IS (reader, reader_type))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the ring buffer map itself to bpf-ringbuf-poll",
                 "not a ring buffer reader: %s", gebpf_repr (reader));
  struct reader *r = scm_foreign_object_ref (reader, 0);
  if (r && r->rb)
    {
      ring_buffer__free (r->rb);
      r->rb = NULL;
    }
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

/* ------------------------------------------------------------------ */
/* Perf buffers.                                                        */

struct perf_reader
{
  char *name;
  const struct gebpf_type *record;
  struct perf_buffer *pb;
  struct take *take;
  uint64_t taken;
  uint64_t lost;                /* samples the kernel lost, in total */
  uint64_t lost_new;            /* ... since the last take */
};

static void
on_sample (void *ctx, int cpu, void *data, __u32 size)
{
  struct perf_reader *r = ctx;
  struct take *t = r->take;
  if (!t)
    return;
  SCM rec = decode_record (t->type, data, size);
  if (t->tail)
    {
      /* What the program sent after the record (perf-emit!'s
         #:packet-bytes), with the kernel's padding to 8 bytes.  */
      size_t used = t->type && size >= t->type->size ? t->type->size : size;
      SCM bv = scm_c_make_bytevector (size - used);
      memcpy (SCM_BYTEVECTOR_CONTENTS (bv), (const uint8_t *) data + used,
              size - used);
      rec = scm_cons (rec, bv);
    }
  t->list = scm_cons (rec, t->list);
  t->n++;
}

static void
on_lost (void *ctx, int cpu, __u64 count)
{
  struct perf_reader *r = ctx;
  r->lost += count;
  r->lost_new += count;
}

static void
finalize_perf_reader (SCM obj)
{
  struct perf_reader *r = scm_foreign_object_ref (obj, 0);
  if (!r)
    return;
  if (r->pb)
    perf_buffer__free (r->pb);
  free (r->name);
  free (r);
  scm_foreign_object_set_x (obj, 0, NULL);
}

static struct perf_reader *
perf_reader_arg (SCM obj, const char *subr)
{
  if (!GEBPF_IS (obj, perf_reader_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass the perf-event-array map itself to bpf-perf-poll",
                 "not a perf buffer reader: %s", gebpf_repr (obj));
  struct perf_reader *r = scm_foreign_object_ref (obj, 0);
  if (!r || !r->pb)
    gebpf_error (gebpf_k_error, subr, 0,
                 "open the perf buffer again (bpf-perf-poll does)",
                 "the perf buffer reader is closed");
  return r;
}

#define FUNC_NAME s_scm_bpf_perf_open
SCM_DEFINE_STATIC (scm_bpf_perf_open, "%bpf-perf-open", 2, 0, 0,
                   (SCM map, SCM pages),
                   "Open a reader on perf-event-array @var{map}: one perf "
                   "buffer of @var{pages} pages (a power of two) per CPU.  "
                   "Raises @code{ebpf-validation-error} for a map of "
                   "another kind or a bad page count, "
                   "@code{ebpf-map-error} when the perf events cannot be "
                   "opened.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  if (m->map_type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 m->map_type == BPF_MAP_TYPE_RINGBUF
                 ? "use bpf-ringbuf-poll for a ringbuf map"
                 : "give a map declared with #:kind 'perf-event-array",
                 "map %s is a %s, not a perf-event-array", m->name,
                 m->kind->name);
  if (!scm_is_unsigned_integer (pages, 1, 1 << 20)
      || (scm_to_ulong (pages) & (scm_to_ulong (pages) - 1)))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give #:pages as a power of two, e.g. 64",
                 "bad page count %s (a power of two between 1 and 2^20)",
                 gebpf_repr (pages));
  SCM obj = gebpf_map_lookup (map);
  int fd = gebpf_map_ensure (scm_is_true (obj) ? obj : map, FUNC_NAME);
  struct perf_reader *r = calloc (1, sizeof *r);
  if (!r)
    gebpf_error (gebpf_k_error, FUNC_NAME, ENOMEM, "free some memory",
                 "perf buffer reader of %s", m->name);
  r->pb = perf_buffer__new (fd, scm_to_size_t (pages), on_sample, on_lost,
                            r, NULL);
  if (!r->pb)
    {
      int err = errno;
      free (r);
      char what[200];
      snprintf (what, sizeof what, "opening the perf buffers of %s", m->name);
      gebpf_syscall_error (gebpf_k_map, FUNC_NAME, err, what,
                           err == EINVAL || err == E2BIG
                           ? "declare the map with #:max-entries at least "
                           "the number of possible CPUs (the default)"
                           : "see the errno above");
    }
  r->name = strdup (m->name);
  r->record = m->record;
  return scm_make_foreign_object_1 (perf_reader_type, r);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_perf_take
SCM_DEFINE_STATIC (scm_bpf_perf_take, "%bpf-perf-take", 2, 1, 0,
                   (SCM reader, SCM timeout, SCM tail),
                   "Take the samples waiting in every CPU's buffer of "
                   "@var{reader}, waiting up to @var{timeout} milliseconds "
                   "(-1: for ever) when there are none.  Return "
                   "@code{(SAMPLES . LOST)}: the samples decoded, oldest "
                   "first per CPU, and the number the kernel lost since "
                   "the last take.  When @var{tail} is true, each sample "
                   "is @code{(RECORD . BYTES)}, BYTES those after the "
                   "record.  Raises @code{ebpf-map-error} when libbpf "
                   "fails.")
{
  struct perf_reader *r = perf_reader_arg (reader, FUNC_NAME);
  int ms = timeout_arg (timeout, FUNC_NAME);
  struct take t = { SCM_EOL, 0, 0, record_type (r->name, r->record),
                    !SCM_UNBNDP (tail) && scm_is_true (tail) };
  r->take = &t;
  int n = perf_buffer__consume (r->pb);
  if (n >= 0 && t.n == 0 && r->lost_new == 0 && ms != 0)
    {
      r->take = NULL;
      wait_outside (perf_buffer__epoll_fd (r->pb), ms);
      r->take = &t;
      n = perf_buffer__consume (r->pb);
    }
  r->take = NULL;
  r->taken += t.n;
  if (n < 0)
    gebpf_syscall_error (gebpf_k_map, FUNC_NAME, -n, "reading perf buffers",
                         "see the errno above");
  SCM lost = scm_from_uint64 (r->lost_new);
  r->lost_new = 0;
  return scm_cons (scm_reverse_x (t.list, SCM_EOL), lost);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_perf_reader_info
SCM_DEFINE_STATIC (scm_bpf_perf_reader_info, "%bpf-perf-reader-info", 1, 0, 0,
                   (SCM reader),
                   "Return @code{#(EPOLL-FD TAKEN LOST)} for @var{reader}: "
                   "the fd that becomes readable when a buffer has samples, "
                   "the samples taken and the samples the kernel lost.")
{
  struct perf_reader *r = perf_reader_arg (reader, FUNC_NAME);
  SCM v = scm_c_make_vector (3, SCM_BOOL_F);
  scm_c_vector_set_x (v, 0, scm_from_int (perf_buffer__epoll_fd (r->pb)));
  scm_c_vector_set_x (v, 1, scm_from_uint64 (r->taken));
  scm_c_vector_set_x (v, 2, scm_from_uint64 (r->lost));
  return v;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_perf_close_x
SCM_DEFINE_STATIC (scm_bpf_perf_close_x, "%bpf-perf-close!", 1, 0, 0,
                   (SCM reader),
                   "Release the perf buffers of @var{reader}.  Idempotent.")
{
  if (!GEBPF_IS (reader, perf_reader_type))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the perf-event-array map itself to bpf-perf-poll",
                 "not a perf buffer reader: %s", gebpf_repr (reader));
  struct perf_reader *r = scm_foreign_object_ref (reader, 0);
  if (r && r->pb)
    {
      perf_buffer__free (r->pb);
      r->pb = NULL;
    }
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

void
gebpf_init_ringbuf (void)
{
  reader_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-ringbuf-reader"),
                                  scm_list_1 (scm_from_utf8_symbol ("ptr")),
                                  finalize_reader);
  scm_c_define ("<bpf-ringbuf-reader>", reader_type);
  perf_reader_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-perf-reader"),
                                  scm_list_1 (scm_from_utf8_symbol ("ptr")),
                                  finalize_perf_reader);
  scm_c_define ("<bpf-perf-reader>", perf_reader_type);
  emit_types = scm_permanent_object (scm_c_make_hash_table (31));
  /* map.c defined it in this module before us.  */
  make_map_proc = scm_permanent_object
    (scm_variable_ref (scm_c_lookup ("%make-bpf-map")));
#ifndef SCM_MAGIC_SNARFER
#include "ringbuf.x"
#endif
}
