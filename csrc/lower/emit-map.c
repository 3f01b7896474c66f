/* emit-map.c --- emit pass: map access and histograms.

   The body's map forms (map-get, map-ref, map-set!, map-delete!,
   map-increment!) as helper calls on the BTF-defined maps, and hist! and
   lhist!, which count into a bucket slot.  Separate from emit.c because
   it is the one part of the emitter that knows the map helpers' calling
   conventions and per-CPU values.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "emit.h"

void
gebpf_emit_ex_map_access (struct emit *E, struct buf *b, struct node *n)
{
  struct gebpf_map *m = gebpf_emit_mapof (n->kid[0]);
  const char *mn = gebpf_emit_mapname (n->kid[0]);
  const struct gebpf_type *kt = m->hist_keyed ? m->hist_key : m->key;
  bs (b, "({ ");
  int k = gebpf_emit_materialize (E, b, kt, n->kid[1]);
  switch (n->op)
    {
    case OP_MAP_GET:
      bf (b, "(%s *)bpf_map_lookup_elem (&%s, &__k%d); })",
          gebpf_emit_tname (E, m->value), mn, k);
      return;
    case OP_MAP_REF:
      {
        int p = gebpf_emit_tmp (E);
        bf (b, "%s *__p%d = bpf_map_lookup_elem (&%s, &__k%d); ",
            gebpf_emit_tname (E, m->value), p, mn, k);
        char lv[32];
        snprintf (lv, sizeof lv, "(*__p%d)", p);
        bf (b, "__p%d ? ", p);
        gebpf_emit_ex_from (E, b, m->value, lv);
        bs (b, " : ");
        if (n->nkid == 3)
          {
            if (gebpf_value_ty (m->value) == TY_INT)
              gebpf_emit_ex_int (E, b, n->kid[2]);
            else
              gebpf_emit_ex (E, b, n->kid[2]);
          }
        else if (gebpf_value_ty (m->value) == TY_INT
                 || gebpf_value_ty (m->value) == TY_BOOL
                 || gebpf_value_ty (m->value) == TY_IPV4)
          bs (b, "0");
        else
          bf (b, "(%s){}", gebpf_emit_tname (E, m->value));
        bs (b, "; })");
        return;
      }
    case OP_MAP_SET:
      {
        int v = gebpf_emit_materialize (E, b, m->value, n->kid[2]);
        bf (b, "bpf_map_update_elem (&%s, &__k%d, &__k%d, BPF_ANY); })",
            mn, k, v);
        return;
      }
    case OP_MAP_DELETE:
      bf (b, "bpf_map_delete_elem (&%s, &__k%d); })", mn, k);
      return;
    case OP_MAP_INC:
      {
        /* Arrays always hold the entry; per-CPU values need no atomics
           (the hand-written idiom, and ~25 fewer instructions).  */
        bool array = m->map_type == BPF_MAP_TYPE_ARRAY
          || m->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
        bool percpu = gebpf_map_percpu (m);
        const char *mac = array ? (percpu ? "GEBPF_ARRAY_ADD" : "GEBPF_ARRAY_ADD_ATOMIC")
          : percpu ? "GEBPF_PERCPU_INC" : "GEBPF_MAP_INC";
        bf (b, "%s (&%s, &__k%d, ", mac, mn, k);
      }
      if (n->nkid == 3)
        gebpf_emit_ex_int (E, b, n->kid[2]);
      else
        bs (b, "1");
      bf (b, ", %s); })", gebpf_emit_tname (E, m->value));
      return;
    default:
      return;
    }
}

void
gebpf_emit_ex_hist (struct emit *E, struct buf *b, struct node *n)
{
  struct gebpf_map *m = gebpf_emit_mapof (n->kid[0]);
  const char *mn = gebpf_emit_mapname (n->kid[0]);
  struct node *v = n->op == OP_HIST ? n->kid[n->nkid - 1] : n->kid[1];
  bs (b, "({ __u32 __slot = ");
  if (n->op == OP_HIST)
    {
      bs (b, "gebpf_log2_bucket (");
      gebpf_emit_ex_int (E, b, v);
      bs (b, ")");
    }
  else
    {
      bs (b, v->is_signed ? "gebpf_lin_bucket_s (" : "gebpf_lin_bucket (");
      gebpf_emit_ex_int (E, b, v);
      bf (b, ", %llu, %llu, %llu)", (unsigned long long) n->kid[2]->ival,
          (unsigned long long) n->kid[3]->ival,
          (unsigned long long) n->kid[4]->ival);
    }
  bs (b, "; ");
  if (m->hist_keyed)
    {
      int k = gebpf_emit_tmp (E);
      bf (b, "struct gebpf_hk_%s __hk%d; __builtin_memset (&__hk%d, 0, "
          "sizeof __hk%d); ", m->cname, k, k, k);
      char lv[48];
      snprintf (lv, sizeof lv, "__hk%d.key", k);
      gebpf_emit_fill (E, b, m->hist_key, lv, n->kid[1]);
      bf (b, "__hk%d.slot = __slot; gebpf_hist_keyed (&%s, &__hk%d); })", k,
          mn, k);
    }
  else
    bf (b, "gebpf_hist_slot (&%s, __slot); })", mn);
}
