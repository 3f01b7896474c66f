/* type.c --- <bpf-type>: the value types of map keys, map values, struct
   fields and event records, with their C layout and their codecs.

   A type is parsed once from its Scheme spelling (u32, (string 16),
   (prefix ipv4), a defbpf-struct name ...) into a C descriptor that is
   interned and never freed, so maps and structs can point at it freely.
   Encoding writes the kernel's bytes for a Scheme value (network order
   for be* and addresses), decoding builds the Scheme value back.  */
#define _GNU_SOURCE
#include <config.h>
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gebpf.h"

SCM gebpf_type_type;
static SCM type_cache;          /* equal? hash: spec -> <bpf-type> */
static SCM struct_table;        /* eq? hash: kebab symbol -> <bpf-type> */

static const struct gebpf_sym base_names[] = {
  {"u8", GT_U8}, {"u16", GT_U16}, {"u32", GT_U32}, {"u64", GT_U64},
  {"i8", GT_I8}, {"i16", GT_I16}, {"i32", GT_I32}, {"i64", GT_I64},
  {"bool", GT_BOOL}, {"be16", GT_BE16}, {"be32", GT_BE32}, {"be64", GT_BE64},
  {"ipv4", GT_IPV4}, {"ipv6", GT_IPV6}, {"mac", GT_MAC},
  {NULL, 0}
};

static const size_t base_size[] = {
  [GT_U8] = 1, [GT_U16] = 2, [GT_U32] = 4, [GT_U64] = 8,
  [GT_I8] = 1, [GT_I16] = 2, [GT_I32] = 4, [GT_I64] = 8,
  [GT_BOOL] = 1, [GT_BE16] = 2, [GT_BE32] = 4, [GT_BE64] = 8,
  [GT_IPV4] = 4, [GT_IPV6] = 16, [GT_MAC] = 6,
};

static const size_t base_align[] = {
  [GT_U8] = 1, [GT_U16] = 2, [GT_U32] = 4, [GT_U64] = 8,
  [GT_I8] = 1, [GT_I16] = 2, [GT_I32] = 4, [GT_I64] = 8,
  [GT_BOOL] = 1, [GT_BE16] = 2, [GT_BE32] = 4, [GT_BE64] = 8,
  [GT_IPV4] = 4, [GT_IPV6] = 4, [GT_MAC] = 1,
};

static struct gebpf_type base_types[GT_MAC + 1];
static struct gebpf_type untyped[9];

/* Stack ids, as (kstack) and (ustack) return them: a u32 kernel stack
   id, and a u64 user stack id with its process id above.  They are a
   u32 and a u64 to everything but their spelling, which tells
   bpf-print-map to print the field as symbolized frames.  */
static struct gebpf_type stack_types[2];
static const char *const stack_names[2] = { "kstack", "ustack" };

static SCM
wrap (struct gebpf_type *t)
{
  t->object = scm_make_foreign_object_1 (gebpf_type_type, t);
  scm_gc_protect_object (t->object);
  return t->object;
}

static struct gebpf_type *
new_type (enum gebpf_tk kind, size_t size, size_t align, SCM spec)
{
  struct gebpf_type *t = calloc (1, sizeof *t);
  if (!t)
    gebpf_error (gebpf_k_error, NULL, ENOMEM, NULL, "allocating a type");
  t->kind = kind;
  t->size = size;
  t->align = align;
  t->rtd = SCM_BOOL_F;
  t->spec = scm_gc_protect_object (spec);
  return t;
}

struct gebpf_type *
gebpf_type_base (enum gebpf_tk kind)
{
  return &base_types[kind];
}

struct gebpf_type *
gebpf_type_untyped (size_t size)
{
  if (size == 1 || size == 2 || size == 4 || size == 8)
    return &untyped[size];
  return gebpf_type_raw (size);
}

struct gebpf_type *
gebpf_type_raw (size_t size)
{
  SCM key = scm_list_2 (scm_from_utf8_symbol ("%raw"), scm_from_size_t (size));
  SCM hit = scm_hash_ref (type_cache, key, SCM_BOOL_F);
  if (scm_is_true (hit))
    return scm_foreign_object_ref (hit, 0);
  struct gebpf_type *t = new_type (GT_RAW, size, 1, key);
  t->count = size;
  scm_hash_set_x (type_cache, key, wrap (t));
  return t;
}

struct gebpf_type *
gebpf_type_from_scm (SCM obj)
{
  if (GEBPF_IS (obj, gebpf_type_type))
    return scm_foreign_object_ref (obj, 0);
  return NULL;
}

static size_t
align_up (size_t n, size_t a)
{
  return (n + a - 1) / a * a;
}

static size_t
positive_count (SCM n, const char *subr, const char *what, SCM spec)
{
  if (!scm_is_unsigned_integer (n, 1, 1 << 20))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give a positive integer length, e.g. (string 16)",
                 "bad length in %s %s (between 1 and 2^20)", what,
                 gebpf_repr (spec));
  return scm_to_size_t (n);
}

SCM_SYMBOL (sym_string, "string");
SCM_SYMBOL (sym_bytes, "bytes");
SCM_SYMBOL (sym_array, "array");
SCM_SYMBOL (sym_prefix, "prefix");

static const char type_fix[] =
  "use u8 u16 u32 u64 i8 i16 i32 i64 bool be16 be32 be64 ipv4 ipv6 mac, "
  "kstack, ustack, (string N), (bytes N), (array T N), (prefix ipv4|ipv6) or a "
  "defbpf-struct name";

/* (array (array ...)) nests no deeper than this: a spec is user data,
   possibly circular, and parsing it recurses.  */
#define TYPE_MAX_DEPTH 32

static struct gebpf_type *type_parse (SCM spec, const char *subr,
                                      const char *what, int depth);

struct gebpf_type *
gebpf_type_parse (SCM spec, const char *subr, const char *what)
{
  return type_parse (spec, subr, what, 0);
}

static struct gebpf_type *
type_parse (SCM spec, const char *subr, const char *what, int depth)
{
  if (depth > TYPE_MAX_DEPTH)
    gebpf_error (gebpf_k_validation, subr, 0,
                 "nest arrays at most 32 deep, and never a type "
                 "inside itself", "%s nested too deeply (or circular): %s",
                 what, gebpf_repr (spec));
  struct gebpf_type *t = gebpf_type_from_scm (spec);
  if (t)
    return t;
  SCM sym = gebpf_enum_symbol (spec);
  if (scm_is_symbol (sym))
    {
      char *name = scm_to_utf8_string (scm_symbol_to_string (sym));
      for (size_t i = 0; i < 2; i++)
        if (strcmp (stack_names[i], name) == 0)
          {
            free (name);
            return &stack_types[i];
          }
      for (const struct gebpf_sym *e = base_names; e->name; e++)
        if (strcmp (e->name, name) == 0)
          {
            free (name);
            return &base_types[e->value];
          }
      for (char *p = name; *p; p++)
        if (*p == '_')
          *p = '-';
      SCM st = scm_hashq_ref (struct_table, scm_from_utf8_symbol (name),
                              SCM_BOOL_F);
      free (name);
      if (scm_is_true (st))
        return scm_foreign_object_ref (st, 0);
      gebpf_error (gebpf_k_validation, subr, 0, type_fix,
                   "unknown %s %s", what, gebpf_repr (spec));
    }
  if (!scm_is_pair (spec) || scm_ilength (spec) < 2)
    gebpf_error (gebpf_k_validation, subr, 0, type_fix,
                 "bad %s %s", what, gebpf_repr (spec));

  SCM hit = scm_hash_ref (type_cache, spec, SCM_BOOL_F);
  if (scm_is_true (hit))
    return scm_foreign_object_ref (hit, 0);

  SCM head = gebpf_enum_symbol (SCM_CAR (spec));
  SCM rest = SCM_CDR (spec);
  long len = scm_ilength (spec);
  if ((scm_is_eq (head, sym_string) || scm_is_eq (head, sym_bytes))
      && len == 2)
    {
      size_t n = positive_count (SCM_CAR (rest), subr, what, spec);
      t = new_type (scm_is_eq (head, sym_string) ? GT_STRING : GT_BYTES,
                    n, 1, spec);
      t->count = n;
    }
  else if (scm_is_eq (head, sym_array) && len == 3)
    {
      struct gebpf_type *el = type_parse (SCM_CAR (rest), subr, what,
                                          depth + 1);
      size_t n = positive_count (SCM_CADR (rest), subr, what, spec);
      t = new_type (GT_ARRAY, el->size * n, el->align, spec);
      t->elem = el;
      t->count = n;
    }
  else if (scm_is_eq (head, sym_prefix) && len == 2)
    {
      struct gebpf_type *el = type_parse (SCM_CAR (rest), subr, what,
                                          depth + 1);
      if (el->kind != GT_IPV4 && el->kind != GT_IPV6)
        gebpf_error (gebpf_k_validation, subr, 0,
                     "write (prefix ipv4) or (prefix ipv6)",
                     "bad %s %s: a prefix is of ipv4 or ipv6",
                     what, gebpf_repr (spec));
      /* struct bpf_lpm_trie_key: u32 prefixlen, then the address.  */
      t = new_type (GT_PREFIX, 4 + el->size, 4, spec);
      t->elem = el;
    }
  else
    gebpf_error (gebpf_k_validation, subr, 0, type_fix,
                 "bad %s %s", what, gebpf_repr (spec));
  scm_hash_set_x (type_cache, spec, wrap (t));
  return t;
}

bool
gebpf_type_is_prefix_like (const struct gebpf_type *t)
{
  return t->kind == GT_PREFIX;
}

char *
gebpf_type_string (const struct gebpf_type *t)
{
  char *s = scm_to_utf8_string (scm_object_to_string (t->spec, SCM_UNDEFINED));
  return s;
}

/* ------------------------------------------------------------------ */
/* Encoding.                                                            */

static void
render_role (const struct gebpf_role *r, char *out, size_t size)
{
  size_t n = strlen (out);
  if (!r || n + 1 >= size)
    return;
  snprintf (out + n, size - n, "%s%s%s%s", n ? " of " : "", r->what,
            r->name ? " " : "", r->name ? r->name : "");
  render_role (r->of, out, size);
}

static SCM_NORETURN void
bad_value (const struct gebpf_type *t, SCM v, const char *subr,
           const struct gebpf_role *role, const char *fix)
{
  char *ts = gebpf_type_string (t);
  char *tg = scm_gc_strdup (ts, "gebpf-type-name");
  free (ts);
  char what[512] = "";
  render_role (role, what, sizeof what);
  gebpf_error (gebpf_k_validation, subr, 0, fix,
               "%s %s does not fit type %s", what[0] ? what : "value",
               gebpf_repr (v), tg);
}

/* An integer outside [LO, HI] for type T: the message states the range.  */
static SCM_NORETURN void
bad_int (const struct gebpf_type *t, SCM v, const char *subr,
         const struct gebpf_role *role, int64_t lo, uint64_t hi)
{
  char *ts = gebpf_type_string (t);
  char *tg = scm_gc_strdup (ts, "gebpf-type-name");
  free (ts);
  char what[512] = "", range[96];
  render_role (role, what, sizeof what);
  gebpf_range (range, sizeof range, lo, hi);
  gebpf_error (gebpf_k_validation, subr, 0, "give an exact integer in range",
               "%s %s does not fit type %s: it must be an integer %s",
               what[0] ? what : "value", gebpf_repr (v), tg, range);
}

static uint64_t
encode_uint (const struct gebpf_type *t, SCM v, size_t size, const char *subr,
             const struct gebpf_role *what)
{
  uint64_t max = size == 8 ? UINT64_MAX : ((uint64_t) 1 << (size * 8)) - 1;
  if (!scm_is_unsigned_integer (v, 0, max))
    bad_int (t, v, subr, what, 0, max);
  return scm_to_uint64 (v);
}

static void
store_uint (uint8_t *buf, uint64_t x, size_t size)
{
  switch (size)
    {
    case 1: { uint8_t y = x; memcpy (buf, &y, 1); break; }
    case 2: { uint16_t y = x; memcpy (buf, &y, 2); break; }
    case 4: { uint32_t y = x; memcpy (buf, &y, 4); break; }
    default: memcpy (buf, &x, 8); break;
    }
}

static uint64_t
load_uint (const uint8_t *buf, size_t size)
{
  switch (size)
    {
    case 1: return buf[0];
    case 2: { uint16_t y; memcpy (&y, buf, 2); return y; }
    case 4: { uint32_t y; memcpy (&y, buf, 4); return y; }
    default: { uint64_t y; memcpy (&y, buf, 8); return y; }
    }
}

/* Parse "a.b.c.d" or "x::y" (AF) into BUF; false when it is not one.  */
static bool
parse_addr (int af, SCM v, uint8_t *buf)
{
  if (!scm_is_string (v))
    return false;
  char *s = scm_to_utf8_string (v);
  int ok = inet_pton (af, s, buf);
  free (s);
  return ok == 1;
}

static bool
parse_mac (SCM v, uint8_t *buf)
{
  if (!scm_is_string (v))
    return false;
  char *s = scm_to_utf8_string (v);
  unsigned int b[6];
  char extra;
  int n = sscanf (s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
                  &b[4], &b[5], &extra);
  free (s);
  if (n != 6)
    return false;
  for (int i = 0; i < 6; i++)
    buf[i] = b[i];
  return true;
}

static void
encode_struct (const struct gebpf_type *t, SCM v, uint8_t *buf,
               const char *subr, const struct gebpf_role *what)
{
  if (SCM_STRUCTP (v) && scm_is_eq (scm_struct_vtable (v), t->rtd))
    {
      for (size_t i = 0; i < t->nfields; i++)
        {
          const struct gebpf_field *f = &t->fields[i];
          struct gebpf_role fw = { "field", f->name, what };
          gebpf_encode (f->type, scm_struct_ref (v, scm_from_size_t (i)),
                        buf + f->offset, subr, &fw);
        }
      return;
    }
  /* An alist ((field . value) ...): fields not named stay zero.  */
  if (scm_is_true (scm_list_p (v)))
    {
      for (SCM l = v; scm_is_pair (l); l = SCM_CDR (l))
        {
          SCM e = SCM_CAR (l);
          if (!scm_is_pair (e) || !scm_is_symbol (gebpf_enum_symbol (SCM_CAR (e))))
            bad_value (t, v, subr, what,
                       "give a record made by the struct's constructor, or "
                       "an alist of (field . value)");
          char *fname = scm_to_utf8_string
            (scm_symbol_to_string (gebpf_enum_symbol (SCM_CAR (e))));
          const struct gebpf_field *f = NULL;
          for (size_t i = 0; i < t->nfields; i++)
            if (strcmp (t->fields[i].name, fname) == 0
                || strcmp (t->fields[i].cname, fname) == 0)
              f = &t->fields[i];
          free (fname);
          if (!f)
            bad_value (t, v, subr, what, "name only the struct's fields");
          struct gebpf_role fw = { "field", f->name, what };
          gebpf_encode (f->type, SCM_CDR (e), buf + f->offset, subr, &fw);
        }
      return;
    }
  bad_value (t, v, subr, what,
             "give a record made by the struct's constructor, or an alist "
             "of (field . value)");
}

static void
encode_prefix (const struct gebpf_type *t, SCM v, uint8_t *buf,
               const char *subr, const struct gebpf_role *what)
{
  int af = t->elem->kind == GT_IPV4 ? AF_INET : AF_INET6;
  unsigned int maxlen = t->elem->size * 8;
  const char *fix = t->elem->kind == GT_IPV4
    ? "write an IPv4 prefix as \"10.0.0.0/8\"" 
    : "write an IPv6 prefix as \"2001:db8::/32\"";
  if (!scm_is_string (v))
    bad_value (t, v, subr, what, fix);
  char *s = scm_to_utf8_string (v);
  char *slash = strchr (s, '/');
  unsigned long plen = maxlen;
  bool ok = true;
  if (slash)
    {
      char *end;
      *slash = 0;
      errno = 0;
      plen = strtoul (slash + 1, &end, 10);
      ok = slash[1] != 0 && *end == 0 && errno == 0 && plen <= maxlen;
    }
  uint32_t pl = plen;
  ok = ok && inet_pton (af, s, buf + 4) == 1;
  free (s);
  if (!ok)
    bad_value (t, v, subr, what, fix);
  memcpy (buf, &pl, 4);
}

void
gebpf_encode (const struct gebpf_type *t, SCM v, uint8_t *buf,
              const char *subr, const struct gebpf_role *what)
{
  switch (t->kind)
    {
    case GT_U8: case GT_U16: case GT_U32: case GT_U64: case GT_UINT:
      if (SCM_I_INUMP (v) && SCM_I_INUM (v) >= 0
          && (t->size == 8 || SCM_I_INUM (v) < ((scm_t_signed_bits) 1
                                                 << (t->size * 8))))
        {
          /* Fixnums: the common case of map I/O, without bignum checks.  */
          store_uint (buf, SCM_I_INUM (v), t->size);
          return;
        }
      store_uint (buf, encode_uint (t, v, t->size, subr, what), t->size);
      return;
    case GT_I8: case GT_I16: case GT_I32: case GT_I64:
      {
        int bits = t->size * 8;
        int64_t min = bits == 64 ? INT64_MIN : -((int64_t) 1 << (bits - 1));
        int64_t max = bits == 64 ? INT64_MAX : ((int64_t) 1 << (bits - 1)) - 1;
        if (!scm_is_signed_integer (v, min, max))
          bad_int (t, v, subr, what, min, (uint64_t) max);
        store_uint (buf, (uint64_t) scm_to_int64 (v), t->size);
        return;
      }
    case GT_BOOL:
      if (!scm_is_bool (v))
        bad_value (t, v, subr, what, "give #t or #f");
      buf[0] = scm_is_true (v);
      return;
    case GT_BE16:
      {
        uint16_t x = htobe16 (encode_uint (t, v, 2, subr, what));
        memcpy (buf, &x, 2);
        return;
      }
    case GT_BE32:
      {
        uint32_t x = htobe32 (encode_uint (t, v, 4, subr, what));
        memcpy (buf, &x, 4);
        return;
      }
    case GT_BE64:
      {
        uint64_t x = htobe64 (encode_uint (t, v, 8, subr, what));
        memcpy (buf, &x, 8);
        return;
      }
    case GT_IPV4:
      if (scm_is_unsigned_integer (v, 0, UINT32_MAX))
        {
          /* An integer address is in host order, as ipv4-saddr gives.  */
          uint32_t x = htobe32 (scm_to_uint32 (v));
          memcpy (buf, &x, 4);
          return;
        }
      if (!parse_addr (AF_INET, v, buf))
        bad_value (t, v, subr, what, "write an IPv4 address as \"10.0.0.1\"");
      return;
    case GT_IPV6:
      if (!parse_addr (AF_INET6, v, buf))
        bad_value (t, v, subr, what,
                   "write an IPv6 address as \"2001:db8::1\"");
      return;
    case GT_MAC:
      if (!parse_mac (v, buf))
        bad_value (t, v, subr, what,
                   "write a MAC address as \"02:00:00:00:00:01\"");
      return;
    case GT_STRING:
      {
        if (!scm_is_string (v))
          bad_value (t, v, subr, what, "give a string");
        size_t n;
        char *s = scm_to_utf8_stringn (v, &n);
        if (n > t->count)
          {
            free (s);
            char fix[96];
            snprintf (fix, sizeof fix,
                      "give a string of at most %zu bytes", t->count);
            bad_value (t, v, subr, what, fix);
          }
        memcpy (buf, s, n);
        memset (buf + n, 0, t->count - n);
        free (s);
        return;
      }
    case GT_BYTES: case GT_RAW:
      if (!scm_is_bytevector (v) || SCM_BYTEVECTOR_LENGTH (v) != t->count)
        {
          char fix[96];
          snprintf (fix, sizeof fix, "give a bytevector of exactly %zu bytes",
                    t->count);
          bad_value (t, v, subr, what, fix);
        }
      memcpy (buf, SCM_BYTEVECTOR_CONTENTS (v), t->count);
      return;
    case GT_ARRAY:
      {
        if (scm_is_true (scm_list_p (v)))
          v = scm_vector (v);
        if (!scm_is_vector (v) || scm_c_vector_length (v) != t->count)
          {
            char fix[96];
            snprintf (fix, sizeof fix, "give a vector of exactly %zu elements",
                      t->count);
            bad_value (t, v, subr, what, fix);
          }
        for (size_t i = 0; i < t->count; i++)
          gebpf_encode (t->elem, scm_c_vector_ref (v, i),
                        buf + i * t->elem->size, subr, what);
        return;
      }
    case GT_PREFIX:
      encode_prefix (t, v, buf, subr, what);
      return;
    case GT_STRUCT:
      encode_struct (t, v, buf, subr, what);
      return;
    }
}

/* ------------------------------------------------------------------ */
/* Decoding.                                                            */

static SCM
addr_string (int af, const uint8_t *buf)
{
  char s[INET6_ADDRSTRLEN];
  inet_ntop (af, buf, s, sizeof s);
  return scm_from_utf8_string (s);
}

SCM
gebpf_decode (const struct gebpf_type *t, const uint8_t *buf)
{
  switch (t->kind)
    {
    case GT_U8: case GT_U16: case GT_U32: case GT_U64: case GT_UINT:
      return scm_from_uint64 (load_uint (buf, t->size));
    case GT_I8: { int8_t x; memcpy (&x, buf, 1); return scm_from_int8 (x); }
    case GT_I16: { int16_t x; memcpy (&x, buf, 2); return scm_from_int16 (x); }
    case GT_I32: { int32_t x; memcpy (&x, buf, 4); return scm_from_int32 (x); }
    case GT_I64: { int64_t x; memcpy (&x, buf, 8); return scm_from_int64 (x); }
    case GT_BOOL:
      return scm_from_bool (buf[0] != 0);
    case GT_BE16: { uint16_t x; memcpy (&x, buf, 2); return scm_from_uint16 (be16toh (x)); }
    case GT_BE32: { uint32_t x; memcpy (&x, buf, 4); return scm_from_uint32 (be32toh (x)); }
    case GT_BE64: { uint64_t x; memcpy (&x, buf, 8); return scm_from_uint64 (be64toh (x)); }
    case GT_IPV4:
      return addr_string (AF_INET, buf);
    case GT_IPV6:
      return addr_string (AF_INET6, buf);
    case GT_MAC:
      {
        char s[18];
        snprintf (s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x",
                  buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]);
        return scm_from_utf8_string (s);
      }
    case GT_STRING:
      return scm_from_stringn ((const char *) buf, strnlen ((const char *) buf,
                                                           t->count),
                               "UTF-8", SCM_FAILED_CONVERSION_QUESTION_MARK);
    case GT_BYTES: case GT_RAW:
      {
        SCM bv = scm_c_make_bytevector (t->count);
        memcpy (SCM_BYTEVECTOR_CONTENTS (bv), buf, t->count);
        return bv;
      }
    case GT_ARRAY:
      {
        SCM vec = scm_c_make_vector (t->count, SCM_BOOL_F);
        for (size_t i = 0; i < t->count; i++)
          scm_c_vector_set_x (vec, i, gebpf_decode (t->elem,
                                                    buf + i * t->elem->size));
        return vec;
      }
    case GT_PREFIX:
      {
        uint32_t pl;
        memcpy (&pl, buf, 4);
        char s[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];
        inet_ntop (t->elem->kind == GT_IPV4 ? AF_INET : AF_INET6, buf + 4,
                   a, sizeof a);
        snprintf (s, sizeof s, "%s/%u", a, pl);
        return scm_from_utf8_string (s);
      }
    case GT_STRUCT:
      {
        if (scm_is_false (t->rtd))
          {
            /* A struct known only from BTF: an alist.  */
            SCM al = SCM_EOL;
            for (size_t i = t->nfields; i-- > 0;)
              al = scm_acons (scm_from_utf8_symbol (t->fields[i].name),
                              gebpf_decode (t->fields[i].type,
                                            buf + t->fields[i].offset), al);
            return al;
          }
        SCM args = SCM_EOL;
        for (size_t i = t->nfields; i-- > 0;)
          args = scm_cons (gebpf_decode (t->fields[i].type,
                                         buf + t->fields[i].offset), args);
        return scm_make_struct_no_tail (t->rtd, args);
      }
    }
  return SCM_BOOL_F;
}

/* ------------------------------------------------------------------ */
/* Scheme interface.                                                    */

#define FUNC_NAME s_scm_bpf_type
SCM_DEFINE_STATIC (scm_bpf_type, "bpf-type", 1, 0, 0, (SCM spec),
            "Return the @code{<bpf-type>} object that @var{spec} names: a "
            "base type symbol (@code{u32}, @code{ipv4} ...), a list such as "
            "@code{(string 16)}, @code{(array u32 4)} or @code{(prefix ipv4)}, "
            "or a @code{defbpf-struct} name.  Raises "
            "@code{ebpf-validation-error} for an unknown type.")
{
  return gebpf_type_parse (spec, FUNC_NAME, "type")->object;
}
#undef FUNC_NAME

static struct gebpf_type *
type_arg (SCM obj, const char *subr)
{
  struct gebpf_type *t = gebpf_type_from_scm (obj);
  return t ? t : gebpf_type_parse (obj, subr, "type");
}

#define FUNC_NAME s_scm_bpf_type_size
SCM_DEFINE_STATIC (scm_bpf_type_size, "bpf-type-size", 1, 0, 0, (SCM type),
            "Return the size in bytes of @var{type} (a @code{<bpf-type>} or "
            "a type spelling), with C layout rules.")
{
  return scm_from_size_t (type_arg (type, FUNC_NAME)->size);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_type_align
SCM_DEFINE_STATIC (scm_bpf_type_align, "bpf-type-align", 1, 0, 0, (SCM type),
            "Return the C alignment in bytes of @var{type}.")
{
  return scm_from_size_t (type_arg (type, FUNC_NAME)->align);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_type_spec
SCM_DEFINE_STATIC (scm_bpf_type_spec, "bpf-type-spec", 1, 0, 0, (SCM type),
            "Return the Scheme spelling of @var{type}, e.g. @code{(string 16)}.")
{
  return type_arg (type, FUNC_NAME)->spec;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_encode
SCM_DEFINE_STATIC (scm_bpf_encode, "bpf-encode", 2, 0, 0, (SCM type, SCM value),
            "Return a bytevector holding the kernel's bytes for @var{value} "
            "as a @var{type}: the bytes a map key or value of that type "
            "holds.  Raises @code{ebpf-validation-error} when @var{value} "
            "does not fit.")
{
  struct gebpf_type *t = type_arg (type, FUNC_NAME);
  SCM bv = scm_c_make_bytevector (t->size);
  memset (SCM_BYTEVECTOR_CONTENTS (bv), 0, t->size);
  gebpf_encode (t, value, (uint8_t *) SCM_BYTEVECTOR_CONTENTS (bv), FUNC_NAME,
                GEBPF_ROLE ("value"));
  return bv;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_decode
SCM_DEFINE_STATIC (scm_bpf_decode, "bpf-decode", 2, 0, 0, (SCM type, SCM bv),
            "Decode the bytevector @var{bv}, as the kernel holds a @var{type}, "
            "into a Scheme value.  Raises @code{ebpf-validation-error} when "
            "@var{bv} is not exactly the type's size.")
{
  struct gebpf_type *t = type_arg (type, FUNC_NAME);
  if (!scm_is_bytevector (bv) || SCM_BYTEVECTOR_LENGTH (bv) != t->size)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give a bytevector of the type's size (bpf-type-size)",
                 "%s is not %zu bytes", gebpf_repr (bv), t->size);
  return gebpf_decode (t, (const uint8_t *) SCM_BYTEVECTOR_CONTENTS (bv));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_type_zero
SCM_DEFINE_STATIC (scm_bpf_type_zero, "%bpf-type-zero", 1, 0, 0, (SCM type),
            "Return the Scheme value of an all-zero @var{type}: the default "
            "of a struct field that a constructor call leaves out.")
{
  struct gebpf_type *t = type_arg (type, FUNC_NAME);
  uint8_t *buf = scm_gc_malloc_pointerless (t->size, "zero");
  memset (buf, 0, t->size);
  return gebpf_decode (t, buf);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_make_struct_type
SCM_DEFINE_STATIC (scm_make_struct_type, "%make-bpf-struct-type", 3, 0, 0,
            (SCM name, SCM fields, SCM rtd),
            "Lay out the struct @var{name} with @var{fields}, a list of "
            "@code{(FIELD TYPE)}, by C rules; register it under @var{name} "
            "and return its @code{<bpf-type>}.  @var{rtd} is the record "
            "type that decoded values are made of.  Raises "
            "@code{ebpf-validation-error} for a bad name, field or type.")
{
  char *cname = gebpf_c_ident (name, FUNC_NAME, "struct name");
  long n = scm_ilength (fields);
  if (n <= 0)
    {
      free (cname);
      gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                   "write (defbpf-struct NAME (FIELD TYPE) ...)",
                   "struct %s has no fields", gebpf_repr (name));
    }
  struct gebpf_field *fs = calloc (n, sizeof *fs);
  size_t off = 0, align = 1;
  long i = 0;
  for (SCM l = fields; scm_is_pair (l); l = SCM_CDR (l), i++)
    {
      SCM f = SCM_CAR (l);
      if (scm_ilength (f) != 2)
        gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                     "write each field as (FIELD TYPE), e.g. (saddr ipv4)",
                     "bad field %s in struct %s", gebpf_repr (f), cname);
      char what[160];
      char *fc = gebpf_c_ident (SCM_CAR (f), FUNC_NAME, "field name");
      snprintf (what, sizeof what, "type of field %s of struct %s", fc, cname);
      for (long j = 0; j < i; j++)
        if (strcmp (fs[j].cname, fc) == 0)
          gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                       "give each field a different name",
                       "field %s appears twice in struct %s", fc, cname);
      struct gebpf_type *ft = gebpf_type_parse (SCM_CADR (f), FUNC_NAME, what);
      off = align_up (off, ft->align);
      fs[i].cname = fc;
      fs[i].name = strdup (fc);
      for (char *p = fs[i].name; *p; p++)
        if (*p == '_')
          *p = '-';
      fs[i].type = ft;
      fs[i].offset = off;
      off += ft->size;
      if (ft->align > align)
        align = ft->align;
    }
  struct gebpf_type *t = new_type (GT_STRUCT, align_up (off, align), align,
                                   scm_string_to_symbol
                                   (scm_from_utf8_string (cname)));
  t->cname = cname;
  t->name = strdup (cname);
  for (char *p = t->name; *p; p++)
    if (*p == '_')
      *p = '-';
  t->spec = scm_gc_protect_object (scm_from_utf8_symbol (t->name));
  t->nfields = n;
  t->fields = fs;
  t->rtd = scm_gc_protect_object (rtd);
  SCM obj = wrap (t);
  scm_hashq_set_x (struct_table, scm_from_utf8_symbol (t->name), obj);
  return obj;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_struct_layout
SCM_DEFINE_STATIC (scm_bpf_struct_layout, "bpf-struct-layout", 1, 0, 0, (SCM type),
            "Return the C layout of the struct @var{type} as a list of "
            "@code{(FIELD OFFSET SIZE)}.  Raises "
            "@code{ebpf-validation-error} when @var{type} is not a struct.")
{
  struct gebpf_type *t = type_arg (type, FUNC_NAME);
  if (t->kind != GT_STRUCT)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give a type declared with defbpf-struct",
                 "%s is not a struct type", gebpf_repr (type));
  SCM out = SCM_EOL;
  for (size_t i = t->nfields; i-- > 0;)
    out = scm_cons (scm_list_3 (scm_from_utf8_symbol (t->fields[i].name),
                                scm_from_size_t (t->fields[i].offset),
                                scm_from_size_t (t->fields[i].type->size)),
                    out);
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_struct_field_specs
SCM_DEFINE_STATIC (scm_bpf_struct_field_specs, "%bpf-struct-field-specs", 1, 0, 0,
            (SCM type),
            "Return the fields of the struct @var{type} as "
            "@code{(FIELD . SPEC)}, SPEC the field type's spelling, or "
            "@code{()} when @var{type} is not a struct.")
{
  /* For printing: a kstack or ustack field prints as frames.  */
  struct gebpf_type *t = type_arg (type, FUNC_NAME);
  SCM out = SCM_EOL;
  if (t->kind == GT_STRUCT)
    for (size_t i = t->nfields; i-- > 0;)
      out = scm_cons (scm_cons (scm_from_utf8_symbol (t->fields[i].name),
                                t->fields[i].type->spec),
                      out);
  return out;
}
#undef FUNC_NAME

void
gebpf_init_type (void)
{
  gebpf_type_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-type"),
                                  scm_list_1 (scm_from_utf8_symbol ("ptr")),
                                  NULL);
  scm_c_define ("<bpf-type>", gebpf_type_type);
  type_cache = scm_permanent_object (scm_c_make_hash_table (31));
  struct_table = scm_permanent_object (scm_c_make_hash_table (31));
  for (const struct gebpf_sym *e = base_names; e->name; e++)
    {
      struct gebpf_type *t = &base_types[e->value];
      t->kind = e->value;
      t->size = base_size[e->value];
      t->align = base_align[e->value];
      t->rtd = SCM_BOOL_F;
      t->spec = scm_permanent_object (scm_from_utf8_symbol (e->name));
      wrap (t);
    }
  for (size_t i = 0; i < 2; i++)
    {
      struct gebpf_type *t = &stack_types[i];
      t->kind = i == 0 ? GT_U32 : GT_U64;
      t->size = t->align = i == 0 ? 4 : 8;
      t->rtd = SCM_BOOL_F;
      t->spec = scm_permanent_object (scm_from_utf8_symbol (stack_names[i]));
      wrap (t);
    }
  for (size_t s = 1; s <= 8; s *= 2)
    {
      struct gebpf_type *t = &untyped[s];
      t->kind = GT_UINT;
      t->size = s;
      t->align = s;
      t->rtd = SCM_BOOL_F;
      char name[16];
      snprintf (name, sizeof name, "%%uint%zu", s * 8);
      t->spec = scm_permanent_object (scm_from_utf8_symbol (name));
      wrap (t);
    }
#ifndef SCM_MAGIC_SNARFER
#include "type.x"
#endif
}

struct gebpf_type *
gebpf_type_anon_struct (const char *name, size_t n, char *const *names,
                        struct gebpf_type *const *types, const size_t *offsets,
                        size_t size, size_t align)
{
  struct gebpf_type *t = new_type (GT_STRUCT, size, align,
                                   scm_from_utf8_symbol (name));
  t->name = strdup (name);
  t->cname = strdup (name);
  t->nfields = n;
  t->fields = calloc (n ? n : 1, sizeof *t->fields);
  for (size_t i = 0; i < n; i++)
    {
      t->fields[i].name = strdup (names[i]);
      t->fields[i].cname = strdup (names[i]);
      for (char *p = t->fields[i].name; *p; p++)
        if (*p == '_')
          *p = '-';
      t->fields[i].type = types[i];
      t->fields[i].offset = offsets[i];
    }
  wrap (t);
  return t;
}

struct gebpf_type *
gebpf_type_lookup_struct (const char *name)
{
  char *k = strdup (name);
  for (char *p = k; *p; p++)
    if (*p == '_')
      *p = '-';
  SCM st = scm_hashq_ref (struct_table, scm_from_utf8_symbol (k), SCM_BOOL_F);
  free (k);
  return scm_is_true (st) ? scm_foreign_object_ref (st, 0) : NULL;
}
