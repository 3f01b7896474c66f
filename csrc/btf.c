/* btf.c --- BTF for the maps guile-ebpf creates, and types read back from
   the BTF of a pinned map.

   Maps we create carry BTF describing their key and value types, so that
   bpftool prints them and another process (bpf-map-open-pinned) decodes
   them without the Scheme declaration.  Address and network-order types
   travel as typedefs (__be16, gebpf_ipv4 ...) whose names bring the type
   back.  BTF is a nicety: any failure here just means "no BTF".  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <linux/btf.h>
#include "gebpf.h"
#include "map.h"

static int
add_uint (struct btf *b, size_t size, bool is_signed)
{
  char name[16];
  snprintf (name, sizeof name, "__%c%zu", is_signed ? 's' : 'u', size * 8);
  return btf__add_int (b, name, size, is_signed ? BTF_INT_SIGNED : 0);
}

static int
add_bytes (struct btf *b, size_t n, bool chars)
{
  int el = chars ? btf__add_int (b, "char", 1, BTF_INT_CHAR)
    : add_uint (b, 1, false);
  int idx = add_uint (b, 4, false);
  if (el < 0 || idx < 0)
    return -1;
  return btf__add_array (b, idx, el, n);
}

static int
add_typedef (struct btf *b, const char *name, int id)
{
  return id < 0 ? id : btf__add_typedef (b, name, id);
}

static int
add_type (struct btf *b, const struct gebpf_type *t)
{
  switch (t->kind)
    {
    case GT_U8: case GT_U16: case GT_U32: case GT_U64: case GT_UINT:
      return add_uint (b, t->size, false);
    case GT_I8: case GT_I16: case GT_I32: case GT_I64:
      return add_uint (b, t->size, true);
    case GT_BOOL:
      return btf__add_int (b, "_Bool", 1, BTF_INT_BOOL);
    case GT_BE16:
      return add_typedef (b, "__be16", add_uint (b, 2, false));
    case GT_BE32:
      return add_typedef (b, "__be32", add_uint (b, 4, false));
    case GT_BE64:
      return add_typedef (b, "__be64", add_uint (b, 8, false));
    case GT_IPV4:
      return add_typedef (b, "gebpf_ipv4", add_uint (b, 4, false));
    case GT_IPV6:
      return add_typedef (b, "gebpf_ipv6", add_bytes (b, 16, false));
    case GT_MAC:
      return add_typedef (b, "gebpf_mac", add_bytes (b, 6, false));
    case GT_STRING:
      return add_bytes (b, t->count, true);
    case GT_BYTES: case GT_RAW:
      return add_bytes (b, t->count, false);
    case GT_ARRAY:
      {
        int el = add_type (b, t->elem), idx = add_uint (b, 4, false);
        return el < 0 || idx < 0 ? -1 : btf__add_array (b, idx, el, t->count);
      }
    case GT_PREFIX:
      {
        int pl = add_uint (b, 4, false), ad = add_type (b, t->elem);
        if (pl < 0 || ad < 0)
          return -1;
        int id = btf__add_struct (b, t->elem->kind == GT_IPV4
                                  ? "gebpf_prefix_ipv4" : "gebpf_prefix_ipv6",
                                  t->size);
        if (id < 0 || btf__add_field (b, "prefixlen", pl, 0, 0) < 0
            || btf__add_field (b, "addr", ad, 32, 0) < 0)
          return -1;
        return id;
      }
    case GT_STRUCT:
      {
        int ids[t->nfields ? t->nfields : 1];
        for (size_t i = 0; i < t->nfields; i++)
          if ((ids[i] = add_type (b, t->fields[i].type)) < 0)
            return -1;
        int id = btf__add_struct (b, t->cname, t->size);
        if (id < 0)
          return -1;
        for (size_t i = 0; i < t->nfields; i++)
          if (btf__add_field (b, t->fields[i].cname, ids[i],
                              t->fields[i].offset * 8, 0) < 0)
            return -1;
        return id;
      }
    }
  return -1;
}

int
gebpf_btf_for_map (const struct gebpf_type *key,
                   const struct gebpf_type *value, struct gebpf_map_btf *out)
{
  out->fd = -1;
  if (!key || !value)
    return -1;
  struct btf *b = btf__new_empty ();
  if (!b)
    return -1;
  int k = add_type (b, key);
  int v = k < 0 ? -1 : add_type (b, value);
  int r = -1;
  if (v >= 0 && btf__load_into_kernel (b) == 0)
    {
      out->fd = dup (btf__fd (b));
      out->key_id = k;
      out->value_id = v;
      r = out->fd >= 0 ? 0 : -1;
    }
  btf__free (b);
  return r;
}

/* ------------------------------------------------------------------ */
/* From BTF back to types.                                              */

static struct gebpf_type *from_btf (const struct btf *b, uint32_t id,
                                    int depth);

static struct gebpf_type *
int_type (size_t size, bool is_signed)
{
  static const enum gebpf_tk u[] = { [1] = GT_U8, [2] = GT_U16, [4] = GT_U32,
                                     [8] = GT_U64 };
  static const enum gebpf_tk s[] = { [1] = GT_I8, [2] = GT_I16, [4] = GT_I32,
                                     [8] = GT_I64 };
  if (size != 1 && size != 2 && size != 4 && size != 8)
    return gebpf_type_untyped (size);
  return gebpf_type_base (is_signed ? s[size] : u[size]);
}

static struct gebpf_type *
parse_spec (SCM spec)
{
  return gebpf_type_parse (spec, "bpf-map-open-pinned", "BTF type");
}

static struct gebpf_type *
from_btf (const struct btf *b, uint32_t id, int depth)
{
  if (depth > 16)
    return NULL;
  const struct btf_type *t = btf__type_by_id (b, id);
  if (!t)
    return NULL;
  const char *name = btf__name_by_offset (b, t->name_off);
  switch (btf_kind (t))
    {
    case BTF_KIND_TYPEDEF:
      if (name)
        {
          if (!strcmp (name, "__be16"))
            return gebpf_type_base (GT_BE16);
          if (!strcmp (name, "__be32"))
            return gebpf_type_base (GT_BE32);
          if (!strcmp (name, "__be64"))
            return gebpf_type_base (GT_BE64);
          if (!strcmp (name, "gebpf_ipv4"))
            return gebpf_type_base (GT_IPV4);
          if (!strcmp (name, "gebpf_ipv6"))
            return gebpf_type_base (GT_IPV6);
          if (!strcmp (name, "gebpf_mac"))
            return gebpf_type_base (GT_MAC);
        }
      /* Other typedefs are what they name.  */
      __attribute__ ((fallthrough));
    case BTF_KIND_CONST:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_RESTRICT:
      return from_btf (b, t->type, depth + 1);
    case BTF_KIND_INT:
      {
        uint32_t enc = btf_int_encoding (t);
        if (enc & BTF_INT_BOOL)
          return gebpf_type_base (GT_BOOL);
        return int_type (t->size, enc & BTF_INT_SIGNED);
      }
    case BTF_KIND_ENUM:
      return int_type (t->size, false);
    case BTF_KIND_ARRAY:
      {
        const struct btf_array *a = btf_array (t);
        const struct btf_type *et = btf__type_by_id (b, a->type);
        while (et && (btf_is_typedef (et) || btf_is_mod (et)))
          et = btf__type_by_id (b, et->type);
        if (et && btf_is_int (et) && et->size == 1)
          {
            bool chr = btf_int_encoding (et) & BTF_INT_CHAR;
            return parse_spec (scm_list_2 (scm_from_utf8_symbol
                                           (chr ? "string" : "bytes"),
                                           scm_from_uint32 (a->nelems)));
          }
        struct gebpf_type *el = from_btf (b, a->type, depth + 1);
        if (!el || a->nelems == 0)
          return NULL;
        return parse_spec (scm_list_3 (scm_from_utf8_symbol ("array"),
                                       el->spec, scm_from_uint32 (a->nelems)));
      }
    case BTF_KIND_STRUCT:
      {
        if (name && !strcmp (name, "gebpf_prefix_ipv4"))
          return parse_spec (scm_list_2 (scm_from_utf8_symbol ("prefix"),
                                         scm_from_utf8_symbol ("ipv4")));
        if (name && !strcmp (name, "gebpf_prefix_ipv6"))
          return parse_spec (scm_list_2 (scm_from_utf8_symbol ("prefix"),
                                         scm_from_utf8_symbol ("ipv6")));
        if (name && *name)
          {
            struct gebpf_type *known = gebpf_type_lookup_struct (name);
            if (known && known->size == t->size)
              return known;
          }
        size_t n = btf_vlen (t), align = 1;
        const struct btf_member *mm = btf_members (t);
        char *names[n ? n : 1];
        struct gebpf_type *types[n ? n : 1];
        size_t offsets[n ? n : 1];
        for (size_t i = 0; i < n; i++)
          {
            if (btf_member_bitfield_size (t, i)
                || btf_member_bit_offset (t, i) % 8)
              return NULL;        /* bit-fields: leave it untyped */
            const char *fn = btf__name_by_offset (b, mm[i].name_off);
            types[i] = from_btf (b, mm[i].type, depth + 1);
            if (!types[i] || !fn || !*fn)
              return NULL;
            names[i] = (char *) fn;
            offsets[i] = btf_member_bit_offset (t, i) / 8;
            if (types[i]->align > align)
              align = types[i]->align;
          }
        return gebpf_type_anon_struct (name && *name ? name : "anon", n, names,
                                       types, offsets, t->size, align);
      }
    default:
      return NULL;
    }
}

void
gebpf_btf_types_for_map (uint32_t btf_id, uint32_t key_id, uint32_t value_id,
                         struct gebpf_type **key, struct gebpf_type **value)
{
  *key = *value = NULL;
  struct btf *b = btf__load_from_kernel_by_id (btf_id);
  if (!b)
    return;
  if (key_id)
    *key = from_btf (b, key_id, 0);
  if (value_id)
    *value = from_btf (b, value_id, 0);
  btf__free (b);
}
