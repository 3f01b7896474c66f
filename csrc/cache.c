/* cache.c --- the object cache of build.c and its trust rule.

   Opening the cache directory component by component without following
   a link another user could have made, checking that it and each entry
   are the effective user's, and writing entries through a temporary
   file renamed into place.  Separate from build.c because this is the
   security boundary of the build (root loads what the cache holds) and
   is read best on its own; build.c decides keys, this file only stores
   and checks.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "gebpf.h"
#include "build.h"

static void
tmp_unlink (struct tmpfile *t)
{
  if (t->name[0])
    unlinkat (t->dirfd, t->name, 0);
  t->name[0] = 0;
}

static void
tmp_release (void *data)
{
  struct tmpfile *t = data;
  tmp_unlink (t);
  if (t->dirfd >= 0)
    close (t->dirfd);
  free (t);
}

/* ------------------------------------------------------------------ */
/* The cache directory.                                                */

/* Root loads what the cache holds into the kernel, so the cache trusts
   only what the effective user could have written: a directory reached
   without a link another user could have made, owned by us, mode 0700,
   checked and fixed through its descriptor (never through its path,
   which could be redirected between the check and the use), and entries
   that are regular files of ours that no one else can write.  */

static void
close_fd (void *data)
{
  close ((int) (intptr_t) data);
}

/* FD, closed when the current dynwind context ends, however it ends.  */
static int
dw_fd (int fd)
{
  scm_dynwind_unwind_handler (close_fd, (void *) (intptr_t) fd,
                              SCM_F_WIND_EXPLICITLY);
  return fd;
}

static void
close_fd_at (void *data)
{
  int *fd = data;
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Whether only root or we can change the entries of the directory ST (in
   a sticky one such as /tmp, no one else can rename or remove ours).  */
static bool
dir_safe (const struct stat *st)
{
  return (st->st_uid == 0 || st->st_uid == geteuid ())
    && (!(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX));
}

/* Whether a link LST in the directory PST was made by root or by us:
   the directory is safe and writable by no one else, or the link is
   root's or ours in a sticky one.  */
static bool
link_safe (const struct stat *pst, const struct stat *lst)
{
  return dir_safe (pst)
    && (!(pst->st_mode & (S_IWGRP | S_IWOTH))
        || lst->st_uid == 0 || lst->st_uid == geteuid ());
}

/* Check that the opened directory FD (PATH in messages) is ours, and make
   it mode 0700 through FD.  */
static void
own_dir (int fd, const char *path, const char *subr)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "check the directory, or point XDG_CACHE_HOME elsewhere",
                 "cannot use the object cache %s", path);
  if (st.st_uid != geteuid ())
    gebpf_error (gebpf_k_compile, subr, 0,
                 "remove it (objects there could have been planted by its "
                 "owner), or point XDG_CACHE_HOME at a directory of your own",
                 "the object cache %s belongs to uid %ld, not to this "
                 "process's uid %ld", path, (long) st.st_uid,
                 (long) geteuid ());
  if ((st.st_mode & 07777) != 0700 && fchmod (fd, 0700) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "chmod 700 the directory",
                 "the object cache %s is open to other users", path);
}

/* Open the directory DIR (absolute), creating what is missing with mode
   0700, without following a path another user could redirect: each
   component is opened with openat from /, a symbolic link is followed
   only if link_safe, every directory above the last must be dir_safe,
   and the last component is never a link.  Returns its descriptor,
   closed with the current dynwind context.  */
static int
open_dir_nofollow (const char *dir, const char *subr)
{
  static const char fix_path[] =
    "point XDG_CACHE_HOME at a directory whose path only root and you "
    "can change";
  scm_dynwind_begin (0);
  char *copy = gebpf_dw_printf (subr, "%s", dir);
  int fd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  scm_dynwind_unwind_handler (close_fd_at, &fd, SCM_F_WIND_EXPLICITLY);
  struct stat pst, st;
  if (fd < 0 || fstat (fd, &pst) < 0)
    gebpf_error (gebpf_k_compile, subr, errno, fix_path,
                 "cannot open / on the way to the object cache %s", dir);
  char *save = NULL;
  for (char *name = strtok_r (copy, "/", &save), *next; name; name = next)
    {
      next = strtok_r (NULL, "/", &save);
      bool last = !next;
      /* The path up to and including NAME, for messages.  */
      char *here = gebpf_dw_printf (subr, "%.*s",
                                    (int) (name - copy + strlen (name)), dir);
      if (strcmp (name, ".") == 0 && !last)
        continue;
      if (strcmp (name, "..") == 0 || strcmp (name, ".") == 0)
        gebpf_error (gebpf_k_compile, subr, 0,
                     "give XDG_CACHE_HOME (or HOME) without . or .. "
                     "components",
                     "the path of the object cache %s has a `%s' component",
                     dir, name);
      int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
      int nfd = openat (fd, name, flags);
      if (nfd < 0 && errno == ENOENT)
        {
          if (mkdirat (fd, name, 0700) < 0 && errno != EEXIST)
            gebpf_error (gebpf_k_compile, subr, errno,
                         "make the directory writable, or point "
                         "XDG_CACHE_HOME elsewhere",
                         "cannot create the object cache %s", dir);
          nfd = openat (fd, name, flags);
        }
      if (nfd < 0 && (errno == ELOOP || errno == ENOTDIR))
        {
          struct stat lst;
          if (fstatat (fd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0
              || !S_ISLNK (lst.st_mode))
            gebpf_error (gebpf_k_compile, subr, ENOTDIR,
                         "remove it, or point XDG_CACHE_HOME elsewhere",
                         "%s, on the path of the object cache %s, is not "
                         "a directory", here, dir);
          if (last)
            gebpf_error (gebpf_k_compile, subr, ELOOP,
                         "point XDG_CACHE_HOME at a real directory (a link "
                         "there could be pointed anywhere)",
                         "the object cache %s is a symbolic link; it is "
                         "not followed", dir);
          if (!link_safe (&pst, &lst))
            gebpf_error (gebpf_k_compile, subr, 0, fix_path,
                         "the path of the object cache %s goes through "
                         "the symbolic link %s, which uid %ld could have "
                         "made", dir, here,
                         (long) (lst.st_uid != 0 && lst.st_uid != geteuid ()
                                 ? lst.st_uid : pst.st_uid));
          nfd = openat (fd, name, flags & ~O_NOFOLLOW);
        }
      if (nfd < 0)
        gebpf_error (gebpf_k_compile, subr, errno,
                     "check the directory, or point XDG_CACHE_HOME "
                     "elsewhere", "cannot open the object cache %s (at %s)",
                     dir, here);
      close (fd);
      fd = nfd;
      if (fstat (fd, &st) < 0)
        gebpf_error (gebpf_k_compile, subr, errno, fix_path,
                     "cannot use the object cache %s (at %s)", dir, here);
      if (!last && !dir_safe (&st))
        {
          char who[64];
          if (st.st_uid != 0 && st.st_uid != geteuid ())
            snprintf (who, sizeof who, "uid %ld", (long) st.st_uid);
          else
            snprintf (who, sizeof who, "any %s",
                      st.st_mode & S_IWOTH ? "user" : "member of its group");
          gebpf_error (gebpf_k_compile, subr, 0, fix_path,
                       "the object cache %s lies under %s, which %s can "
                       "change (and so swap the cache's entries)",
                       dir, here, who);
        }
      pst = st;
    }
  int out = fd;
  fd = -1;
  scm_dynwind_end ();
  return dw_fd (out);
}

/* The cache directory, created 0700 if missing and refused unless it is
   ours and reached safely (open_dir_nofollow); its descriptor in *FDP
   when FDP is not NULL.  Both are released with the current dynwind
   context.  */
char *
gebpf_cache_dir (const char *subr, int *fdp)
{
  const char *xdg = getenv ("XDG_CACHE_HOME");
  char *dir;
  /* The XDG spec says a relative XDG_CACHE_HOME is to be ignored.  */
  if (xdg && xdg[0] == '/')
    dir = gebpf_dw_printf (subr, "%s/guile-ebpf", xdg);
  else
    {
      const char *home = getenv ("HOME");
      if (!home || home[0] != '/')
        {
          struct passwd *pw = getpwuid (geteuid ());
          home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
        }
      if (!home)
        gebpf_error (gebpf_k_compile, subr, 0,
                     "set XDG_CACHE_HOME (or HOME) to an absolute directory",
                     "no directory for guile-ebpf's object cache: neither "
                     "XDG_CACHE_HOME nor HOME is set");
      dir = gebpf_dw_printf (subr, "%s/.cache/guile-ebpf", home);
    }
  int fd = open_dir_nofollow (dir, subr);
  own_dir (fd, dir, subr);
  if (fdp)
    *fdp = fd;
  return dir;
}

/* The subdirectory NAME of the cache directory CFD (PATH in messages),
   made 0700 if missing.  Anything else of that name that is not a
   directory is replaced.  Returns its descriptor, closed with the
   current dynwind context.  */
int
gebpf_cache_subdir (int cfd, const char *name, const char *path,
                    const char *subr)
{
  int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 3; tries++)
    {
      if (mkdirat (cfd, name, 0700) < 0 && errno != EEXIST)
        break;
      fd = openat (cfd, name, flags);
      if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        unlinkat (cfd, name, 0);
      else if (fd < 0)
        break;
    }
  if (fd < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "make the object cache writable, or point XDG_CACHE_HOME "
                 "elsewhere", "cannot create %s", path);
  dw_fd (fd);
  own_dir (fd, path, subr);
  return fd;
}

/* Open the entry NAME of the cache directory DIRFD for reading if it can
   be trusted: a regular file (a link is not followed), ours, that no one
   else can write.  Returns its descriptor and status in *ST, or -1 with
   errno ENOENT when there is no such entry, EPERM when it is not
   trusted, or why it could not be opened.  */
int
gebpf_cache_open_entry (int dirfd, const char *name, struct stat *st)
{
  /* O_NONBLOCK: a planted FIFO must not hang the open.  */
  int fd = openat (dirfd, name,
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ELOOP)
        errno = EPERM;
      return -1;
    }
  if (fstat (fd, st) < 0 || !S_ISREG (st->st_mode)
      || st->st_uid != geteuid () || (st->st_mode & (S_IWGRP | S_IWOTH)))
    {
      close (fd);
      errno = EPERM;
      return -1;
    }
  return fd;
}

/* Make a temporary file in the directory DIRFD (DIR in messages) for a
   later rename, and return it with its descriptor in *FD (closed if FD is
   NULL).  Created with O_EXCL|O_NOFOLLOW: nothing there is reused.  */
struct tmpfile *
gebpf_cache_make_temp (int dirfd, const char *dir, int *fd, const char *subr)
{
  static unsigned long counter;
  struct tmpfile *t = malloc (sizeof *t);
  if (!t)
    gebpf_build_no_memory (subr);
  t->name[0] = 0;
  t->dirfd = -1;
  scm_dynwind_unwind_handler (tmp_release, t, SCM_F_WIND_EXPLICITLY);
  if ((t->dirfd = fcntl (dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "close some files, or raise the limit of open files",
                 "cannot use the object cache %s", dir);
  for (int tries = 0;; tries++)
    {
      uint64_t r;
      if (getrandom (&r, sizeof r, GRND_NONBLOCK) != (ssize_t) sizeof r)
        r = ((uint64_t) getpid () << 32)
          ^ (uint64_t) time (NULL)
          ^ __atomic_fetch_add (&counter, 1, __ATOMIC_RELAXED);
      char name[sizeof t->name];
      snprintf (name, sizeof name, ".tmp-%012llx",
                (unsigned long long) (r & 0xffffffffffffull));
      if ((size_t) snprintf (t->path, sizeof t->path, "%s/%s", dir, name)
          >= sizeof t->path)
        gebpf_error (gebpf_k_compile, subr, ENAMETOOLONG,
                     "point XDG_CACHE_HOME at a shorter path",
                     "the object cache path %s is too long", dir);
      int f = openat (t->dirfd, name,
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
      if (f >= 0)
        {
          memcpy (t->name, name, sizeof name);
          if (fd)
            *fd = f;
          else
            close (f);
          return t;
        }
      if (errno != EEXIST || tries >= 100)
        gebpf_error (gebpf_k_compile, subr, errno,
                     "make the object cache writable, or point "
                     "XDG_CACHE_HOME elsewhere",
                     "cannot create a file in %s", dir);
    }
}

/* Rename T into place as DEST in its directory.  */
void
gebpf_cache_commit_temp (struct tmpfile *t, const char *dest, const char *subr)
{
  if (renameat (t->dirfd, t->name, t->dirfd, dest) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "make the object cache writable, or point XDG_CACHE_HOME "
                 "elsewhere", "cannot write %.*s%s",
                 (int) (strlen (t->path) - strlen (t->name)), t->path, dest);
  t->name[0] = 0;
}

/* Write DATA to DEST in the directory DIRFD (DIR in messages)
   atomically: a temporary file, then a rename.  */
void
gebpf_cache_write_atomic (int dirfd, const char *dir, const char *dest,
                          const void *data, size_t n, const char *subr)
{
  int fd;
  struct tmpfile *t = gebpf_cache_make_temp (dirfd, dir, &fd, subr);
  const char *p = data;
  while (n)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          int e = errno;
          close (fd);
          gebpf_error (gebpf_k_compile, subr, e,
                       "free space in the object cache's file system",
                       "cannot write %s/%s", dir, dest);
        }
      p += w;
      n -= w;
    }
  if (close (fd) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "free space in the object cache's file system",
                 "cannot write %s/%s", dir, dest);
  gebpf_cache_commit_temp (t, dest, subr);
}

/* Check the entry OBJ of the cache directory DIRFD: both it and its
   digest SUM can be trusted (gebpf_cache_open_entry), OBJ starts with
   the ELF magic, and its SHA-256 is the one stored in SUM.  An entry
   that fails is damaged: it is built again and renamed over.  */
enum entry
gebpf_cache_check_entry (int dirfd, const char *obj, const char *sum)
{
  size_t n, sn;
  struct stat st;
  int fd = gebpf_cache_open_entry (dirfd, obj, &st);
  if (fd < 0)
    return errno == ENOENT ? ENTRY_MISSING : ENTRY_DAMAGED;
  char *bytes = gebpf_slurp_fd (fd, &n);
  close (fd);
  if (!bytes)
    return ENTRY_DAMAGED;
  char hex[65];
  bool ok = n > 4 && memcmp (bytes, "\177ELF", 4) == 0;
  if (ok)
    gebpf_sha256_hex (bytes, n, hex);
  free (bytes);
  char *stored = NULL;
  if (ok && (fd = gebpf_cache_open_entry (dirfd, sum, &st)) >= 0)
    {
      stored = gebpf_slurp_fd (fd, &sn);
      close (fd);
    }
  ok = stored && sn >= 64 && memcmp (stored, hex, 64) == 0;
  free (stored);
  return ok ? ENTRY_OK : ENTRY_DAMAGED;
}

