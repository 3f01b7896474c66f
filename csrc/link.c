/* link.c --- <bpf-link>: one attachment and the registry of live ones.

   A <bpf-link> is one attachment (several kernel links for a perf event
   sampled on every CPU).  Live links sit in a registry, so dropping the
   Scheme object never detaches a program behind the user's back:
   bpf-link-destroy! or bpf-detach-all! do.  A link does not need its
   object: closing the object keeps the program attached through the
   link.  The attach functions that make links are attach.c's; this file
   owns what every link shares: its parts, their teardown, replacing the
   program, and the listing.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"
#include "object.h"

#ifndef SO_DETACH_BPF
#define SO_DETACH_BPF SO_DETACH_FILTER
#endif

static SCM gebpf_link_type;

/* ------------------------------------------------------------------ */
/* <bpf-link>.                                                           */

struct gebpf_link
{
  char *kind;                   /* attach kind: "tracepoint", "xdp" ... */
  char *target;                 /* what it is attached to, printable */
  char *prog_name;
  enum bpf_prog_type type;
  int attach_type;
  size_t nparts;
  struct part *parts;
  bool live;
  SCM self;                     /* protected while live */
  struct gebpf_link *prev, *next;
};

static struct gebpf_link *live_links;   /* the registry */
/* Guards live_links: links may be made and destroyed from several
   threads.  Nothing throws while it is held.  */
static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;

void
gebpf_part_destroy (struct part *p)
{
  switch (p->kind)
    {
    case PART_LIBBPF:
      if (p->link)
        bpf_link__destroy (p->link);
      p->link = NULL;
      break;
    case PART_FD:
      if (p->fd >= 0)
        close (p->fd);
      p->fd = -1;
      break;
    case PART_TC:
      {
        LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = p->ifindex,
                     .attach_point = p->attach_point);
        LIBBPF_OPTS (bpf_tc_opts, o, .handle = p->handle,
                     .priority = p->priority);
        bpf_tc_detach (&hook, &o);
        if (p->hook_created)
          {
            /* The qdisc is shared by every tc link on the interface: hand
               it over to another live one of ours, else remove it.  */
            bool handed = false;
            for (struct gebpf_link *l = live_links; l && !handed; l = l->next)
              for (size_t i = 0; i < l->nparts && !handed; i++)
                {
                  struct part *q = &l->parts[i];
                  if (q != p && q->kind == PART_TC && q->ifindex == p->ifindex
                      && q->handle)
                    {
                      q->hook_created = true;
                      handed = true;
                    }
                }
            if (!handed)
              {
                hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                bpf_tc_hook_destroy (&hook);
              }
          }
        p->handle = 0;
        p->hook_created = false;
        break;
      }
    case PART_SOCKET:
      if (p->fd >= 0)
        {
          /* Only if the fd still names the socket we attached to.  */
          struct stat st;
          if (fstat (p->fd, &st) == 0 && st.st_dev == p->dev
              && st.st_ino == p->ino)
            {
              int dummy = 0;
              setsockopt (p->fd, SOL_SOCKET, SO_DETACH_BPF, &dummy,
                          sizeof dummy);
            }
        }
      p->fd = -1;
      break;
    }
}

static void
link_destroy (struct gebpf_link *l)
{
  pthread_mutex_lock (&links_lock);
  if (!l->live)
    {
      pthread_mutex_unlock (&links_lock);
      return;
    }
  l->live = false;
  if (l->prev)
    l->prev->next = l->next;
  else
    live_links = l->next;
  if (l->next)
    l->next->prev = l->prev;
  l->prev = l->next = NULL;
  for (size_t i = 0; i < l->nparts; i++)
    gebpf_part_destroy (&l->parts[i]);
  SCM self = l->self;
  l->self = SCM_BOOL_F;
  pthread_mutex_unlock (&links_lock);
  scm_gc_unprotect_object (self);
}

static void
finalize_link (SCM obj)
{
  struct gebpf_link *l = scm_foreign_object_ref (obj, 0);
  if (!l)
    return;
  /* Live links are protected, so this is only a backstop.  */
  if (l->live)
    for (size_t i = 0; i < l->nparts; i++)
      gebpf_part_destroy (&l->parts[i]);
  free (l->kind);
  free (l->target);
  free (l->prog_name);
  free (l->parts);
  free (l);
  scm_foreign_object_set_x (obj, 0, NULL);
}

static struct gebpf_link *
link_from_scm (SCM obj, const char *subr, int pos)
{
  if (!GEBPF_IS (obj, gebpf_link_type))
    gebpf_error (gebpf_k_validation, subr, 0,
                 "pass a link returned by an attach procedure",
                 "argument %d is not a <bpf-link>: %s", pos, gebpf_repr (obj));
  struct gebpf_link *l = scm_foreign_object_ref (obj, 0);
  if (!l)
    gebpf_error (gebpf_k_error, subr, 0, "attach again",
                 "the <bpf-link> was finalized");
  return l;
}

/* Make a live <bpf-link> owning PARTS (malloc'ed, N of them).  */
SCM
gebpf_make_link (SCM object, struct gebpf_object *o, const char *kind,
           const char *target, struct part *parts, size_t n)
{
  struct gebpf_link *l = calloc (1, sizeof *l);
  l->kind = strdup (kind);
  l->target = strdup (target);
  l->prog_name = strdup (o->name);
  l->type = o->type;
  l->attach_type = o->attach_type;
  l->parts = parts;
  l->nparts = n;
  l->live = true;
  SCM obj = scm_make_foreign_object_2 (gebpf_link_type, l,
                                       (void *) SCM_UNPACK (object));
  l->self = scm_gc_protect_object (obj);
  pthread_mutex_lock (&links_lock);
  l->next = live_links;
  if (live_links)
    live_links->prev = l;
  live_links = l;
  pthread_mutex_unlock (&links_lock);
  return obj;
}

SCM
gebpf_make_link1 (SCM object, struct gebpf_object *o, const char *kind,
            const char *target, struct part p)
{
  struct part *parts = malloc (sizeof *parts);
  *parts = p;
  return gebpf_make_link (object, o, kind, target, parts, 1);
}

SCM
gebpf_libbpf_link (SCM object, struct gebpf_object *o, const char *kind,
             const char *target, struct bpf_link *link)
{
  struct part p = { .kind = PART_LIBBPF, .link = link, .fd = -1 };
  return gebpf_make_link1 (object, o, kind, target, p);
}

#define FUNC_NAME s_scm_bpf_link_update_x
SCM_DEFINE_STATIC (scm_bpf_link_update_x, "%bpf-link-update!", 2, 0, 0,
                   (SCM link, SCM obj),
                   "Replace the program behind @var{link} by the program of "
                   "@var{obj} atomically (no event missed or seen twice), "
                   "where the kind of link allows it: XDP, tc, cgroup, "
                   "socket filter.  Raises @code{ebpf-attach-error} when "
                   "the link is destroyed, the kinds differ, or the kernel "
                   "cannot update this kind of link.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  struct gebpf_object *o = gebpf_object_live (obj, FUNC_NAME, 2);
  if (!l->live)
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0, "attach the object instead",
                 "the %s link to %s was destroyed", l->kind, l->target);
  if (o->type != l->type
      || ((o->type == BPF_PROG_TYPE_TRACING || o->type == BPF_PROG_TYPE_LSM
           || o->type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
           || o->type == BPF_PROG_TYPE_CGROUP_SOCK)
          && o->attach_type != l->attach_type))
    gebpf_error (gebpf_k_attach, FUNC_NAME, 0,
                 "replace a program by one of the same kind (and hook)",
                 "cannot replace %s program %s by %s program %s",
                 l->kind, l->prog_name, o->kind_name, o->name);
  for (size_t i = 0; i < l->nparts; i++)
    {
      struct part *p = &l->parts[i];
      int r = 0, err = 0;
      switch (p->kind)
        {
        case PART_LIBBPF:
          r = bpf_link__update_program (p->link, o->prog);
          err = r < 0 ? -r : 0;
          break;
        case PART_FD:
          r = bpf_link_update (p->fd, o->prog_fd, NULL);
          err = r < 0 ? errno : 0;
          break;
        case PART_TC:
          {
            LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = p->ifindex,
                         .attach_point = p->attach_point);
            LIBBPF_OPTS (bpf_tc_opts, to, .prog_fd = o->prog_fd,
                         .handle = p->handle, .priority = p->priority,
                         .flags = BPF_TC_F_REPLACE);
            r = bpf_tc_attach (&hook, &to);
            err = r < 0 ? -r : 0;
            break;
          }
        case PART_SOCKET:
          r = setsockopt (p->fd, SOL_SOCKET, SO_ATTACH_BPF, &o->prog_fd,
                          sizeof o->prog_fd);
          err = r < 0 ? errno : 0;
          break;
        }
      if (err)
        {
          if (err == EOPNOTSUPP || err == ENOTSUPP_ERRNO || err == EINVAL)
            gebpf_error (gebpf_k_attach, FUNC_NAME, err,
                         "destroy the link and attach the new object (events "
                         "in between are missed), or attach once a "
                         "dispatcher that tail-calls through a prog-array",
                         "a %s link cannot replace its program in place",
                         l->kind);
          char what[300];
          snprintf (what, sizeof what, "replacing the program of the %s "
                    "link to %s", l->kind, l->target);
          gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, err,
                               scm_gc_strdup (what, "gebpf"),
                               "see the errno above");
        }
    }
  free (l->prog_name);
  l->prog_name = strdup (o->name);
  scm_foreign_object_set_x (link, 1, (void *) SCM_UNPACK (obj));
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_destroy_x
SCM_DEFINE_STATIC (scm_bpf_link_destroy_x, "%bpf-link-destroy!", 1, 0, 0,
                   (SCM link),
                   "Detach @var{link} and release it.  Idempotent.  Raises "
                   "@code{ebpf-validation-error} if @var{link} is not a "
                   "@code{<bpf-link>}.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  link_destroy (l);
  return SCM_UNSPECIFIED;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_p
SCM_DEFINE_STATIC (scm_bpf_link_p, "%bpf-link?", 1, 0, 0, (SCM obj),
                   "Return @code{#t} if @var{obj} is a @code{<bpf-link>}, "
                   "live or destroyed.  Raises nothing.")
{
  return scm_from_bool (GEBPF_IS (obj, gebpf_link_type));
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_meta
SCM_DEFINE_STATIC (scm_bpf_link_meta, "%bpf-link-meta", 1, 0, 0, (SCM link),
                   "Return a vector #(KIND TARGET PROGRAM-NAME OBJECT LIVE? "
                   "FDS) describing @var{link}; FDS lists the kernel link "
                   "fds it holds.  Raises @code{ebpf-validation-error} if "
                   "@var{link} is not a @code{<bpf-link>}.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  SCM fds = SCM_EOL;
  if (l->live)
    for (size_t i = l->nparts; i-- > 0;)
      {
        struct part *p = &l->parts[i];
        int fd = p->kind == PART_LIBBPF ? bpf_link__fd (p->link)
          : p->kind == PART_FD ? p->fd : -1;
        if (fd >= 0)
          fds = scm_cons (scm_from_int (fd), fds);
      }
  SCM v = scm_c_make_vector (6, SCM_BOOL_F);
  scm_c_vector_set_x (v, 0, scm_from_utf8_symbol (l->kind));
  scm_c_vector_set_x (v, 1, scm_from_utf8_string (l->target));
  scm_c_vector_set_x (v, 2, scm_from_utf8_string (l->prog_name));
  SCM object = SCM_PACK ((scm_t_bits) scm_foreign_object_ref (link, 1));
  scm_c_vector_set_x (v, 3, object);
  scm_c_vector_set_x (v, 4, scm_from_bool (l->live));
  scm_c_vector_set_x (v, 5, fds);
  return v;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_link_tc_filters
SCM_DEFINE_STATIC (scm_bpf_link_tc_filters, "%bpf-link-tc-filters", 1, 0, 0,
                   (SCM link),
                   "Return the tc filters @var{link} holds, as a list of "
                   "vectors #(IFINDEX DIRECTION HANDLE PRIORITY), "
                   "DIRECTION @code{ingress} or @code{egress}: what it "
                   "takes to find and remove a filter that outlives its "
                   "process.  Raises @code{ebpf-validation-error} if "
                   "@var{link} is not a @code{<bpf-link>}.")
{
  struct gebpf_link *l = link_from_scm (link, FUNC_NAME, 1);
  SCM out = SCM_EOL;
  if (l->live)
    for (size_t i = l->nparts; i-- > 0;)
      {
        struct part *p = &l->parts[i];
        if (p->kind != PART_TC || !p->handle)
          continue;
        out = scm_cons (scm_vector
                        (scm_list_4 (scm_from_int (p->ifindex),
                                     scm_from_utf8_symbol
                                     (p->attach_point == BPF_TC_EGRESS
                                      ? "egress" : "ingress"),
                                     scm_from_uint32 (p->handle),
                                     scm_from_uint32 (p->priority))),
                        out);
      }
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_links
SCM_DEFINE_STATIC (scm_bpf_links, "%bpf-links", 0, 0, 0, (),
                   "Return the live links of this process, newest first.  "
                   "Raises nothing.")
{
  /* Collect first: consing may run the GC, never under the lock.  */
  size_t n = 0, cap = 16;
  SCM *v = NULL;
  for (;;)
    {
      v = scm_gc_malloc (cap * sizeof *v, "gebpf-links");
      pthread_mutex_lock (&links_lock);
      n = 0;
      for (struct gebpf_link *l = live_links; l; l = l->next)
        if (n < cap)
          v[n++] = l->self;
        else
          n = cap + 1;
      pthread_mutex_unlock (&links_lock);
      if (n <= cap)
        break;
      cap *= 4;
    }
  SCM out = SCM_EOL;
  for (size_t i = n; i-- > 0;)
    out = scm_cons (v[i], out);
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_detach_all_x
SCM_DEFINE_STATIC (scm_bpf_detach_all_x, "%bpf-detach-all!", 0, 0, 0, (),
                   "Destroy every live link of this process; return how "
                   "many there were.  Raises nothing.")
{
  size_t n = 0;
  for (;;)
    {
      pthread_mutex_lock (&links_lock);
      struct gebpf_link *l = live_links;
      pthread_mutex_unlock (&links_lock);
      if (!l)
        break;
      link_destroy (l);
      n++;
    }
  return scm_from_size_t (n);
}
#undef FUNC_NAME


void
gebpf_init_link (void)
{
  gebpf_link_type =
    scm_make_foreign_object_type (scm_from_utf8_symbol ("bpf-link"),
                                  scm_list_2 (scm_from_utf8_symbol ("ptr"),
                                              scm_from_utf8_symbol ("object")),
                                  finalize_link);
  scm_c_define ("<bpf-link>", gebpf_link_type);
#ifndef SCM_MAGIC_SNARFER
#include "link.x"
#endif
}
