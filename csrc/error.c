/* error.c --- the one error raiser of guile-ebpf.

   Every failure the user can trigger ends here and is thrown as a Guile
   exception whose key is one of the ebpf-error family.  The arguments
   follow scm-error's shape, (SUBR MESSAGE ARGS DETAILS), so Guile's REPL
   prints "SUBR: MESSAGE"; DETAILS is an alist with errno, its name and,
   for compile and verifier failures, the whole log.  The message is
   complete text (no ~A directives are left in it) and ends with a
   "Fix: ..." hint.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "kernel/kernel.h"

SCM gebpf_k_error, gebpf_k_validation, gebpf_k_map, gebpf_k_permission,
  gebpf_k_lower, gebpf_k_compile, gebpf_k_verifier, gebpf_k_attach;

/* Escape '~' so Guile's message formatter prints the text verbatim.  */
static SCM
message_string (const char *text)
{
  size_t n = 0;
  for (const char *p = text; *p; p++)
    n += (*p == '~') ? 2 : 1;
  char *out = malloc (n + 1);
  if (!out)
    return scm_from_utf8_string (text);
  char *q = out;
  for (const char *p = text; *p; p++)
    {
      *q++ = *p;
      if (*p == '~')
        *q++ = '~';
    }
  *q = 0;
  SCM s = scm_from_utf8_string (out);
  free (out);
  return s;
}

/* Errno values the kernel returns although they are kernel-internal:
   glibc has neither a name nor a text for them.  */
#define GEBPF_ENOTSUPP 524

/* libbpf's own codes, from LIBBPF_ERRNO__START, by offset.  */
static const char *const libbpf_errno_names[] = {
  "LIBBPF_ERRNO__LIBELF", "LIBBPF_ERRNO__FORMAT", "LIBBPF_ERRNO__KVERSION",
  "LIBBPF_ERRNO__ENDIAN", "LIBBPF_ERRNO__INTERNAL", "LIBBPF_ERRNO__RELOC",
  "LIBBPF_ERRNO__LOAD", "LIBBPF_ERRNO__VERIFY", "LIBBPF_ERRNO__PROG2BIG",
  "LIBBPF_ERRNO__KVER", "LIBBPF_ERRNO__PROGTYPE", "LIBBPF_ERRNO__WRNGPID",
  "LIBBPF_ERRNO__INVSEQ", "LIBBPF_ERRNO__NLPARSE",
};

const char *
gebpf_errno_name (int err)
{
  if (err < 0)
    err = -err;
  if (err >= LIBBPF_ERRNO__LIBELF
      && (size_t) (err - LIBBPF_ERRNO__LIBELF)
      < sizeof libbpf_errno_names / sizeof libbpf_errno_names[0])
    return libbpf_errno_names[err - LIBBPF_ERRNO__LIBELF];
  if (err == GEBPF_ENOTSUPP)
    return "ENOTSUPP";
  return strerrorname_np (err);
}

const char *
gebpf_errno_text (int err, char *buf, size_t size)
{
  if (err < 0)
    err = -err;
  if (err == GEBPF_ENOTSUPP)
    return "the kernel does not support this operation for this kind of "
      "program or attachment (a kernel-internal code)";
  if (err >= __LIBBPF_ERRNO__START && err < __LIBBPF_ERRNO__END
      && libbpf_strerror (err, buf, size) == 0)
    return buf;
  return strerror (err);
}

/* The name users know for the procedure SUBR.  Raw primitives
   ("%bpf-attach-uprobe") are never shown: the public procedure the user
   called, recorded by (ebpf error)'s with-public-who, wins; otherwise the
   public wrapper of the primitive.  */
static const struct
{
  const char *internal, *public;
  bool prefix;
} public_names[] = {
  { "%bpf-attach-socket", "bpf-attach-socket!", false },
  { "%bpf-attach-", "bpf-object-attach", true },
  { "%bpf-map-info", "bpf-map-name", false },
  { "%bpf-fd-pin!", "bpf-policy-apply!", false },
  { "%bpf-map-release!", "bpf-policy-apply!", false },
  { "%bpf-pinned-info", "bpf-policy-status", false },
  { "%bpf-ringbuf-", "bpf-ringbuf-poll", true },
    { "%bpf-perf-", "bpf-perf-poll", true },
  { "%bpf-symbolize", "bpf-stack-symbols", false },
  { "%bpf-type-zero", "bpf-type", false },
  { "%make-bpf-struct-type", "defbpf-struct", false },
  { "%make-bpf-fn", "bpf-fn", false },
  { "%bpf-fn-", "bpf-fn", true },
};

static SCM
public_who (const char *subr)
{
  if (!subr)
    return SCM_BOOL_F;
  if (subr[0] != '%')
    return scm_from_utf8_string (subr);
  SCM var = scm_c_private_variable ("ebpf error", "%public-who");
  if (scm_is_true (var))
    {
      SCM who = scm_fluid_ref (scm_variable_ref (var));
      if (scm_is_symbol (who))
        return scm_symbol_to_string (who);
      if (scm_is_string (who))
        return who;
    }
  for (size_t i = 0; i < sizeof public_names / sizeof public_names[0]; i++)
    {
      size_t n = strlen (public_names[i].internal);
      if (public_names[i].prefix
          ? strncmp (subr, public_names[i].internal, n) == 0
          : strcmp (subr, public_names[i].internal) == 0)
        return scm_from_utf8_string (public_names[i].public);
    }
  /* Most primitives wrap a public procedure of the same name.  */
  return scm_from_utf8_string (subr + 1);
}

static SCM_NORETURN void
throw_formatted (SCM key, const char *subr, int err, const char *log,
                 SCM extra, const char *fix, const char *fmt, va_list ap)
{
  char *body = NULL, *msg = NULL;
  if (vasprintf (&body, fmt, ap) < 0)
    body = NULL;
  const char *ename = err ? gebpf_errno_name (err) : NULL;
  char tbuf[256];
  int r;
  if (err)
    r = asprintf (&msg, "%s: %s (%s)%s%s", body ? body : "error",
                  gebpf_errno_text (err, tbuf, sizeof tbuf),
                  ename ? ename : "?",
                  fix ? ". Fix: " : "", fix ? fix : "");
  else
    r = asprintf (&msg, "%s%s%s", body ? body : "error",
                  fix ? ". Fix: " : "", fix ? fix : "");
  free (body);
  if (r < 0)
    msg = NULL;

  SCM details = scm_is_pair (extra) ? extra : SCM_EOL;
  if (log && *log)
    details = scm_acons (scm_from_utf8_symbol ("log"),
                         scm_from_utf8_string (log), details);
  if (err)
    {
      details = scm_acons (scm_from_utf8_symbol ("errno-name"),
                           ename ? scm_from_utf8_symbol (ename) : SCM_BOOL_F,
                           details);
      details = scm_acons (scm_from_utf8_symbol ("errno"),
                           scm_from_int (err), details);
    }
  SCM message = message_string (msg ? msg : "out of memory");
  free (msg);
  scm_throw (key, scm_list_4 (public_who (subr), message, SCM_EOL, details));
  abort ();                     /* not reached: scm_throw does not return */
}

void
gebpf_error (SCM key, const char *subr, int err, const char *fix,
             const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  throw_formatted (key, subr, err, NULL, SCM_EOL, fix, fmt, ap);
}

void
gebpf_error_log (SCM key, const char *subr, int err, const char *log,
                 const char *fix, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  throw_formatted (key, subr, err, log, SCM_EOL, fix, fmt, ap);
}

void
gebpf_error_details (SCM key, const char *subr, SCM details, const char *fix,
                     const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  throw_formatted (key, subr, 0, NULL, details, fix, fmt, ap);
}

/* Whether this process holds CAP_BPF or CAP_SYS_ADMIN: then an EPERM
   is the kernel refusing the operation itself, not a missing privilege.  */
static bool
privileged (void)
{
  static int known = -1;
  if (known < 0)
    {
      uint64_t caps = gebpf_effective_caps ();
      known = (caps & (1ULL << 39)) || (caps & (1ULL << 21));
    }
  return known;
}

void
gebpf_syscall_error (SCM key, const char *subr, int err, const char *what,
                     const char *fix)
{
  if ((err == EPERM || err == EACCES) && !privileged ())
    gebpf_error (gebpf_k_permission, subr, err,
                 "run as root, or grant CAP_BPF (and CAP_PERFMON, "
                 "CAP_NET_ADMIN for tracing and networking programs), "
                 "e.g. `sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep "
                 "$(which guile)`",
                 "%s: the kernel refused the operation for lack of privilege",
                 what);
  gebpf_error (key, subr, err, fix, "%s", what);
}

/* A bounded printer for messages.  User data reaching an error can be
   circular or nested 100,000 deep; Guile's printer would recurse through
   all of it.  This one stops at REPR_DEPTH levels and REPR_ITEMS items
   per list (so cycles end too), prints located bpf-fn forms as their
   items, and cuts the text at MAX bytes on a character boundary.  */
#define REPR_DEPTH 12
#define REPR_ITEMS 32

struct repr
{
  char *buf;
  size_t len, max;
  bool full;
};

static void
repr_put (struct repr *r, const char *s, size_t n)
{
  if (r->full)
    return;
  if (r->len + n > r->max)
    {
      n = r->max - r->len;
      /* Back off to the start of a UTF-8 sequence.  */
      while (n > 0 && (s[n] & 0xc0) == 0x80)
        n--;
      memcpy (r->buf + r->len, s, n);
      r->len += n;
      memcpy (r->buf + r->len, "...", 3);
      r->len += 3;
      r->full = true;
      return;
    }
  memcpy (r->buf + r->len, s, n);
  r->len += n;
}

static void
repr_str (struct repr *r, const char *s)
{
  repr_put (r, s, strlen (s));
}

static bool
located_form_p (SCM x)
{
  return scm_is_vector (x) && scm_c_vector_length (x) == 5
    && scm_is_eq (scm_c_vector_ref (x, 0), gebpf_loc_marker);
}

static void
repr_obj (struct repr *r, SCM x, int depth)
{
  if (r->full)
    return;
  if (located_form_p (x))
    x = scm_c_vector_ref (x, 4);
  bool vec = scm_is_vector (x) && !scm_is_string (x);
  if (vec || scm_is_pair (x))
    {
      if (depth >= REPR_DEPTH)
        {
          repr_str (r, vec ? "#(...)" : "(...)");
          return;
        }
      if (!vec && scm_is_pair (SCM_CDR (x)) && scm_is_null (SCM_CDDR (x))
          && scm_is_eq (SCM_CAR (x), scm_sym_quote))
        {
          repr_str (r, "'");
          repr_obj (r, SCM_CADR (x), depth + 1);
          return;
        }
      repr_str (r, vec ? "#(" : "(");
      size_t n = vec ? scm_c_vector_length (x) : 0;
      size_t i = 0;
      for (;; i++)
        {
          SCM item;
          if (vec)
            {
              if (i >= n)
                break;
              item = scm_c_vector_ref (x, i);
            }
          else
            {
              if (!scm_is_pair (x))
                break;
              item = SCM_CAR (x);
              x = SCM_CDR (x);
            }
          if (i)
            repr_str (r, " ");
          if (i >= REPR_ITEMS)
            {
              repr_str (r, "...");
              x = SCM_EOL;
              break;
            }
          repr_obj (r, item, depth + 1);
        }
      if (!vec && !scm_is_null (x))
        {
          repr_str (r, " . ");
          repr_obj (r, x, depth + 1);
        }
      repr_str (r, ")");
      return;
    }
  char *c = scm_to_utf8_string (scm_object_to_string (x, SCM_UNDEFINED));
  /* Copy into GC memory first, so a throw from repr_put leaks nothing.  */
  size_t len = strlen (c);
  char *g = scm_gc_malloc_pointerless (len + 1, "gebpf-repr");
  memcpy (g, c, len + 1);
  free (c);
  repr_put (r, g, len);
}

char *
gebpf_repr_n (SCM obj, size_t max)
{
  /* GC-managed, so a throw right after this leaks nothing.  */
  struct repr r = { scm_gc_malloc_pointerless (max + 4, "gebpf-repr"), 0,
                    max, false };
  repr_obj (&r, obj, 0);
  r.buf[r.len] = 0;
  return r.buf;
}

static void
bound_text (char *buf, size_t size, bool neg, uint64_t v)
{
  /* Small bounds read better in decimal (255, 65535).  */
  for (int k = 20; k <= 64; k++)
    {
      uint64_t p = k == 64 ? 0 : (uint64_t) 1 << k;   /* 2^64 wraps to 0 */
      if (k < 64 && v == p)
        {
          snprintf (buf, size, "%s2^%d", neg ? "-" : "", k);
          return;
        }
      if (!neg && v == p - 1)
        {
          snprintf (buf, size, "2^%d-1", k);
          return;
        }
    }
  snprintf (buf, size, "%s%llu", neg ? "-" : "", (unsigned long long) v);
}

const char *
gebpf_range (char *buf, size_t size, int64_t lo, uint64_t hi)
{
  char a[32], b[32];
  bound_text (a, sizeof a, lo < 0, lo < 0 ? -(uint64_t) lo : (uint64_t) lo);
  bound_text (b, sizeof b, false, hi);
  snprintf (buf, size, "between %s and %s", a, b);
  return buf;
}

char *
gebpf_repr (SCM obj)
{
  return gebpf_repr_n (obj, 1000);
}

void
gebpf_init_error (void)
{
#define K(var, name) var = scm_permanent_object (scm_from_utf8_symbol (name))
  K (gebpf_k_error, "ebpf-error");
  K (gebpf_k_validation, "ebpf-validation-error");
  K (gebpf_k_map, "ebpf-map-error");
  K (gebpf_k_permission, "ebpf-permission-error");
  K (gebpf_k_lower, "ebpf-lower-error");
  K (gebpf_k_compile, "ebpf-compile-error");
  K (gebpf_k_verifier, "ebpf-verifier-error");
  K (gebpf_k_attach, "ebpf-attach-error");
#undef K
}
