/* bounds.c --- pass 4: the body against the program kind.

   Takes: the typed AST, the program kind and the target descriptor
   (target.c).  Gives: the same AST with tracepoint fields located
   (offset, size, signedness from the descriptor's tracepoint formats),
   fexit return slots found in its BTF,
   the packet layers used noted in L->packet_layers, and an
   ebpf-lower-error for every form the kind cannot run: packet forms
   outside xdp/tc/socket-filter/cgroup-skb, tracing forms outside tracing
   programs, process helpers in packet programs.  The packet bounds checks
   themselves live in bpf/gebpf.h; every header access the emitter writes
   goes through them and tests the header pointer first.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "lower.h"

static const char *
kind_name (struct lower *L)
{
  return gebpf_sym_name (gebpf_prog_kinds, L->kind);
}

static void
need (struct lower *L, struct node *n, bool ok, const char *fix)
{
  if (!ok)
    gebpf_lower_error (L, n, fix, "%s is not available in %s programs",
                       n->name ? n->name : gebpf_op_name (n->op),
                       kind_name (L));
}

/* A system call tracepoint stores every argument as a long (size 8,
   signed 0, whatever its type): a field declared int, pid_t, uid_t ...
   is read as its declared type, as C and bpftrace read it (dfd of
   sys_enter_openat is -100, not 4294967196).  Gives the field's offset,
   size and signedness so.  */
static void
declared_width (const struct tp_field *f, int *offset, int *size, int *sgn)
{
  static const struct { const char *type; int size, sgn; } known[] = {
    {"int", 4, 1}, {"signed int", 4, 1}, {"pid_t", 4, 1},
    {"clockid_t", 4, 1}, {"key_serial_t", 4, 1}, {"mqd_t", 4, 1},
    {"timer_t", 4, 1}, {"key_t", 4, 1}, {"rwf_t", 4, 1},
    {"unsigned int", 4, 0}, {"unsigned", 4, 0}, {"uid_t", 4, 0},
    {"gid_t", 4, 0}, {"qid_t", 4, 0}, {"u32", 4, 0}, {"__u32", 4, 0},
    {"umode_t", 2, 0}, {"short", 2, 1}, {"unsigned short", 2, 0},
    {"long", 8, 1}, {"ssize_t", 8, 1}, {"off_t", 8, 1}, {"loff_t", 8, 1},
    {"long long", 8, 1}, {"__s64", 8, 1}, {"s64", 8, 1},
  };
  *offset = f->offset;
  *size = f->size;
  *sgn = f->is_signed;
  if (f->size != 8 || f->pointer || f->array || f->dataloc)
    return;
  const char *t = f->type;
  if (strncmp (t, "const ", 6) == 0)
    t += 6;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp (t, known[i].type) == 0)
      {
        *sgn = known[i].sgn;
        if (known[i].size < 8)
          {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            *offset += 8 - known[i].size;
#endif
            *size = known[i].size;
          }
        return;
      }
}

static void
locate_tp_field (struct lower *L, struct node *n, const char *field, long pos)
{
  if (!L->target)
    gebpf_lower_error (L, n, "give the program's tracepoint (#:attach "
                       "\"syscalls/sys_enter_openat\") before lowering",
                       "arg of a tracepoint needs its target");
  const struct gebpf_target *T = &L->tgt;
  if ((!T->tp_known || T->ntp == 0) && !strpbrk (L->target, ":/"))
    gebpf_error (gebpf_k_validation, "bpf-fn", 0,
                 "write it as \"CATEGORY/NAME\" or \"CATEGORY:NAME\", e.g. "
                 "\"syscalls/sys_enter_openat\"",
                 "bpf-fn %s: bad tracepoint name %s (no category)", L->fname,
                 L->target);
  if (!T->tp_known || T->ntp == 0)
    gebpf_error (gebpf_k_attach, "bpf-fn", 0,
                 "list tracepoints with (bpf-list-probes \"syscalls:*\") or "
                 "ls /sys/kernel/tracing/events; mount tracefs if it is "
                 "missing (mount -t tracefs tracefs /sys/kernel/tracing)",
                 "bpf-fn %s: no tracepoint matches %s", L->fname, L->target);
  int offset = -1, size = 0, sgn = 0;
  bool array = false, chars = false, dataloc = false;
  /* Offsets by probe index, when the matches differ (below).  */
  SCM offsets = scm_c_make_vector (T->ntp, SCM_BOOL_F);
  bool moved = false;
  for (int i = 0; i < T->ntp; i++)
    {
      const struct tp_format *tp = &T->tp[i];
      const struct tp_field *fs = tp->fields;
      int nf = tp->nfields;
      int hit = -1;
      for (int j = 0; j < nf; j++)
        if (field ? strcmp (fs[j].name, field) == 0 : j == pos)
          hit = j;
      if (hit < 0)
        {
          char fix[1024] = "its fields are:";
          for (int j = 0; j < nf; j++)
            {
              strncat (fix, " ", sizeof fix - strlen (fix) - 1);
              strncat (fix, fs[j].name, sizeof fix - strlen (fix) - 1);
            }
          if (field)
            gebpf_lower_error (L, n, fix, "tracepoint %s/%s has no field %s",
                               tp->cat, tp->name, field);
          gebpf_lower_error (L, n, fix, "tracepoint %s/%s has no argument %ld",
                             tp->cat, tp->name, pos);
        }
      int off, fsize, fsgn;
      declared_width (&fs[hit], &off, &fsize, &fsgn);
      /* One field at different offsets (filename of sys_enter_newstat
         and sys_enter_newfstatat) is read at the offset of the probe
         that fired; its type must be the same everywhere.  */
      if (offset >= 0 && (fsize != size || fsgn != sgn
                          || fs[hit].array != array
                          || fs[hit].chars != chars
                          || fs[hit].dataloc != dataloc))
        gebpf_lower_error (L, n, "attach one program per field type (a "
                           "define-bpf-inline can share the body), or narrow "
                           "the glob", "field %s has different types in "
                           "the tracepoints of %s", fs[hit].name, L->target);
      if (offset >= 0 && off != offset)
        moved = true;
      scm_c_vector_set_x (offsets, i, scm_from_int (off));
      offset = off;
      size = fsize;
      sgn = fsgn;
      array = fs[hit].array;
      chars = fs[hit].chars;
      dataloc = fs[hit].dataloc;
    }
  n->field = offset;
  if (moved)
    n->ref = offsets;           /* emit-read.c reads by the probe's index */
  n->ival = size;
  n->is_signed = sgn;
  /* slot: 0 an integer, 1 an array (char: a string), 2 a __data_loc
     string stored after the record, 3 a small array read as one
     integer.  */
  n->slot = dataloc ? 2 : array ? 1 : 0;
  /* A small non-char array (u8 saddr[4]) reads as an integer of its
     bytes, as before arrays were strings; slot 3 remembers that the
     bytes are in memory order, so that an ipv4 value takes them as
     they are (types.c).  */
  if (n->slot == 1 && !chars
      && (size == 1 || size == 2 || size == 4 || size == 8))
    n->slot = 3;
  n->quoted = chars;
  if (!dataloc && !array && size != 1 && size != 2 && size != 4 && size != 8)
    gebpf_lower_error (L, n, "read integer, pointer, array or string fields",
                       "field of %d bytes cannot be read as an integer", size);
}

void
gebpf_locate_tp_arg (struct lower *L, struct node *n)
{
  locate_tp_field (L, n, n->kid[1]->op == OP_SYM ? n->kid[1]->name : NULL,
                   n->kid[1]->op == OP_INT ? n->kid[1]->ival : 0);
}

static int
fexit_slot (struct lower *L, struct node *n)
{
  const struct btf *b = L->tgt.btf;
  int id = b && L->target ? btf__find_by_name_kind (b, L->target,
                                                    BTF_KIND_FUNC) : -1;
  if (id < 0)
    gebpf_lower_error (L, n, "give an existing kernel function as target",
                       "no kernel function %s in BTF",
                       L->target ? L->target : "(none)");
  const struct btf_type *fn = btf__type_by_id (b, id);
  const struct btf_type *proto = btf__type_by_id (b, fn->type);
  return btf_vlen (proto);
}

static void
walk (struct lower *L, struct node *n)
{
  if (!n)
    return;
  bool pkt = gebpf_kind_is_packet (L->kind);
  bool trace = gebpf_kind_is_tracing (L->kind) || L->kind == PK_LSM;
  switch (n->op)
    {
    case OP_PROTO: case OP_PKT_ETH: case OP_PKT_IPV4: case OP_PKT_IPV6:
    case OP_PKT_TCP: case OP_PKT_UDP: case OP_PKT_ICMP: case OP_FIELD:
    case OP_FRAGP: case OP_PKT_LEN:
      need (L, n, pkt, "use packet forms in xdp, tc, socket-filter and "
            "cgroup-skb programs");
      L->packet_layers |= 1u << (n->hdr ? n->hdr : 1);
      break;
    case OP_PID: case OP_TGID: case OP_TID: case OP_UID: case OP_GID:
    case OP_COMM:
      need (L, n, trace || L->kind == PK_CGROUP_SOCK_ADDR,
            "packet programs run outside any process; count by address "
            "or port instead");
      break;
    case OP_USDT_ARG:
      need (L, n, L->kind == PK_USDT, "use usdt-arg in usdt programs; "
            "(arg ctx N) reads the arguments of other tracing programs");
      break;
    case OP_ARG:
      need (L, n, trace, "use arg in tracing programs");
      if (L->kind == PK_USDT)
        need (L, n, false, "read a USDT probe's arguments with (usdt-arg "
              "ctx N)");
      if (L->kind == PK_PERF_EVENT)
        need (L, n, false, "perf-event programs have no arguments");
      if (L->kind == PK_TRACEPOINT)
        ;                       /* located by the types pass */
      else if (n->kid[1]->op != OP_INT)
        gebpf_lower_error (L, n, "name arguments by position (arg ctx 0) in "
                           "this kind of program",
                           "arg by field name works in tracepoint programs");
      else if ((L->kind == PK_KPROBE || L->kind == PK_KRETPROBE
                || L->kind == PK_UPROBE || L->kind == PK_URETPROBE)
               && n->kid[1]->ival > 4)
        gebpf_lower_error (L, n, "read arguments 0..4 (the registers libbpf "
                           "names PT_REGS_PARM1..5)",
                           "argument %lld is not in a register here",
                           (long long) n->kid[1]->ival);
      break;
    case OP_RETVAL:
      if (L->kind == PK_FEXIT)
        n->field = fexit_slot (L, n);
      else if (L->kind == PK_TRACEPOINT)
        {
          locate_tp_field (L, n, "ret", 0);
          n->ty = TY_INT;
        }
      else
        need (L, n, L->kind == PK_KRETPROBE || L->kind == PK_URETPROBE,
              "use retval in fexit, kretprobe, uretprobe or sys_exit "
              "tracepoint programs");
      break;
    case OP_CURRENT_TASK: case OP_CORE_READ: case OP_CORE_CAST:
    case OP_READ_USER_STR:
    case OP_READ_KERNEL_STR: case OP_READ_USER: case OP_READ_KERNEL:
      need (L, n, trace, "use kernel memory reads in tracing programs");
      break;
    case OP_PROBE:
      need (L, n, trace, "use (probe) in tracing programs");
      L->uses_probe = true;
      break;
    case OP_PERF_EMIT:
      /* Packet bytes come from the context: a packet program's.  */
      if (n->nkid == 4)
        need (L, n, pkt, "send packet bytes from xdp, tc, socket-filter and "
              "cgroup-skb programs");
      break;
    case OP_STACK_ID:
      need (L, n, trace, "use stack-id in tracing and perf-event programs");
      break;
    case OP_UNDER_CGROUP:
      /* The kernel offers bpf_current_task_under_cgroup to tracing
         programs only: elsewhere "current" is not the task the event
         is about.  */
      need (L, n, trace, "use under-cgroup? in tracing programs (kprobe, "
            "uprobe, tracepoint, raw-tracepoint, perf-event ...); a cgroup "
            "program is already scoped by the cgroup it is attached to");
      break;
    case OP_SET_FIELD: case OP_REDIRECT:
      /* A struct field in a map (n->st) may be written by any kind.  */
      need (L, n, L->kind == PK_XDP || L->kind == PK_TC
            || (n->op == OP_SET_FIELD
                && (n->st || n->kid[0]->ty == TY_CTX)),
            "write packets in xdp and tc programs");
      break;
    case OP_PKT_VLAN:
      /* The Ethernet header is read directly: socket filters and
         cgroup-skb programs see none (or only through copies).  */
      need (L, n, L->kind == PK_XDP || L->kind == PK_TC,
            "read the VLAN id in xdp and tc programs");
      break;
    case OP_PKT_IFINDEX:
      /* Read from the context: no header, no layer.  */
      need (L, n, pkt, "use packet forms in xdp, tc, socket-filter and "
            "cgroup-skb programs");
      break;
    case OP_FIB_LOOKUP: case OP_FIB_STATUS:
      need (L, n, L->kind == PK_XDP || L->kind == PK_TC,
            "route packets in xdp and tc programs");
      L->packet_layers |= 1u << H_ETH;
      break;
    case OP_REDIRECT_PEER:
      /* bpf_redirect_peer: tc ingress only, which the kernel checks at
         run time (TC_ACT_SHOT elsewhere).  */
      need (L, n, L->kind == PK_TC, "use redirect-peer in tc programs");
      break;
    case OP_XDP_ADJUST_HEAD: case OP_XDP_ADJUST_TAIL: case OP_REDIRECT_MAP:
      need (L, n, L->kind == PK_XDP, "use it in xdp programs");
      break;
    case OP_KSTACK: case OP_USTACK:
      need (L, n, trace, "use (kstack) and (ustack) in tracing and "
            "perf-event programs");
      break;
    default:
      break;
    }
  for (int i = 0; i < n->nkid; i++)
    walk (L, n->kid[i]);
}

/* Packet writes need the program's context; an inline has none.  */
static void
no_packet_writes (struct lower *L, struct node *n)
{
  if ((n->op == OP_SET_FIELD && !n->st) || n->op == OP_XDP_ADJUST_HEAD
      || n->op == OP_XDP_ADJUST_TAIL)
    gebpf_lower_error (L, n, "write packets in the program's body; an inline "
                       "may compute the values",
                       "%s inside define-bpf-inline", n->name);
  for (int i = 0; i < n->nkid; i++)
    no_packet_writes (L, n->kid[i]);
}

/* After xdp-adjust-head! or xdp-adjust-tail! every packet pointer the
   program holds is invalid (the verifier forgets them all).  Walk the
   body in evaluation order with STALE[slot] set for header locals bound
   before an adjustment; a later read of one is refused here, with the
   line of the adjustment, instead of by the verifier.  Rebinding the
   local (let, set!) after the adjustment makes it fresh again.  Loops are
   walked twice: an adjustment late in one iteration precedes the next.  */
struct stale
{
  bool *slot;
  struct node *at;              /* the last adjustment seen */
};

static void stale_walk (struct lower *L, struct node *n, struct stale *st);

/* Branches exclude each other: each starts from the state before it,
   and what follows sees the union of their ends.  */
static bool *
stale_copy (struct lower *L, const bool *from)
{
  bool *c = scm_gc_malloc_pointerless (L->nlocals, "stale");
  memcpy (c, from, L->nlocals);
  return c;
}

static void
stale_join (struct lower *L, bool *into, const bool *from)
{
  for (int i = 0; i < L->nlocals; i++)
    into[i] = into[i] || from[i];
}

/* Walk kids FROM..nkid-1 of SEQ in order.  */
static void
stale_seq (struct lower *L, struct node *seq, int from, struct stale *st)
{
  for (int i = from; i < seq->nkid; i++)
    stale_walk (L, seq->kid[i], st);
}

static void
stale_branches (struct lower *L, struct node *n, struct stale *st)
{
  bool *start = st->slot;
  bool *out = scm_gc_malloc_pointerless (L->nlocals, "stale");
  bool has_else = false;
  memset (out, 0, L->nlocals);
  switch (n->op)
    {
    case OP_IF:
      stale_walk (L, n->kid[0], st);
      start = st->slot;
      for (int i = 1; i < n->nkid; i++)
        {
          st->slot = stale_copy (L, start);
          stale_walk (L, n->kid[i], st);
          stale_join (L, out, st->slot);
        }
      has_else = n->nkid == 3;
      break;
    case OP_COND:
      /* Test i runs after tests 1..i-1 failed; body i after test i.  */
      for (int i = 0; i < n->nkid; i++)
        {
          struct node *cl = n->kid[i];
          bool is_else = cl->name && strcmp (cl->name, "else") == 0;
          if (!is_else)
            stale_walk (L, cl->kid[0], st);
          bool *after_test = st->slot;
          st->slot = stale_copy (L, after_test);
          stale_seq (L, cl, is_else ? 0 : 1, st);
          stale_join (L, out, st->slot);
          st->slot = after_test;
          has_else = has_else || is_else;
        }
      start = st->slot;
      break;
    default:                    /* OP_CASE */
      stale_walk (L, n->kid[0], st);
      start = st->slot;
      for (int i = 1; i < n->nkid; i++)
        {
          struct node *cl = n->kid[i];
          st->slot = stale_copy (L, start);
          stale_seq (L, cl, 0, st);
          stale_join (L, out, st->slot);
          has_else = has_else || (cl->name && strcmp (cl->name, "else") == 0);
        }
      break;
    }
  if (!has_else)
    stale_join (L, out, start);
  st->slot = out;
}

static void
stale_walk (struct lower *L, struct node *n, struct stale *st)
{
  switch (n->op)
    {
    case OP_IF:
    case OP_COND:
    case OP_CASE:
      stale_branches (L, n, st);
      return;
    case OP_WHEN:
    case OP_UNLESS:
      {
        /* The body may not run: what follows sees either end.  */
        stale_walk (L, n->kid[0], st);
        bool *skipped = stale_copy (L, st->slot);
        stale_seq (L, n, 1, st);
        stale_join (L, st->slot, skipped);
        return;
      }
    case OP_LOCAL:
      if (n->slot >= 0 && n->slot < L->nlocals && st->slot[n->slot])
        {
          char fix[200];
          snprintf (fix, sizeof fix, "parse the header again after the "
                    "adjustment (line %d), e.g. (let ((ip (packet-ipv4 ctx))) "
                    "...)", st->at->line);
          gebpf_lower_error (L, n, fix, "header %s was parsed before %s, "
                             "which moved the packet", n->name, st->at->name);
        }
      return;
    case OP_LET:
    case OP_LETSTAR:
      {
        struct node *bs = n->kid[0];
        for (int i = 0; i < bs->nkid; i++)
          {
            stale_walk (L, bs->kid[i]->kid[0], st);
            st->slot[bs->kid[i]->slot] = false;
          }
        stale_walk (L, n->kid[1], st);
        return;
      }
    case OP_SET:
      for (int i = 0; i < n->nkid; i++)
        stale_walk (L, n->kid[i], st);
      st->slot[n->slot] = false;
      return;
    case OP_DO_TIMES:
      stale_walk (L, n->kid[0], st);
      stale_walk (L, n->kid[1], st);
      stale_walk (L, n->kid[1], st);
      return;
    case OP_XDP_ADJUST_HEAD:
    case OP_XDP_ADJUST_TAIL:
      for (int i = 0; i < n->nkid; i++)
        stale_walk (L, n->kid[i], st);
      for (int i = 0; i < L->nlocals; i++)
        if (L->local_ty[i] == TY_HDR)
          st->slot[i] = true;
      st->at = n;
      return;
    default:
      for (int i = 0; i < n->nkid; i++)
        stale_walk (L, n->kid[i], st);
      return;
    }
}

void
gebpf_bounds (struct lower *L)
{
  walk (L, L->body);
  for (struct inline_inst *in = L->insts; in; in = in->next)
    {
      walk (L, in->body);
      no_packet_writes (L, in->body);
    }
  if (L->kind == PK_XDP && L->nlocals > 0)
    {
      struct stale st = { scm_gc_malloc_pointerless (L->nlocals, "stale"),
                          NULL };
      memset (st.slot, 0, L->nlocals);
      stale_walk (L, L->body, &st);
    }
}
