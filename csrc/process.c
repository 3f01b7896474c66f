/* process.c --- running clang for the object builds.

   No shell: the program is spawned with posix_spawnp, its stdin fed
   from memory and its stdout and stderr read in full (stderr kept up to
   MAX_LOG), all outside Guile mode.  Separate from build.c because
   pipes, poll and SIGPIPE handling are one concern that knows nothing
   of flags or the cache.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "gebpf.h"
#include "buf.h"
#include "build.h"

extern char **environ;

#define MAX_LOG (4u << 20)      /* clang's stderr kept, at most */

static void
drain (int *fd, struct buf *b, struct run *r)
{
  char chunk[16384];
  ssize_t n = read (*fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      close (*fd);
      *fd = -1;
      return;
    }
  if (b->len < MAX_LOG && !gebpf_buf_add (b, chunk, n))
    r->nomem = true;
}

static void *
run_process (void *data)
{
  struct run *r = data;
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
  r->status = -1;
  r->spawn_err = 0;
  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0
      || pipe2 (err, O_CLOEXEC) < 0)
    {
      r->spawn_err = errno;
      goto done;
    }

  posix_spawn_file_actions_t fa;
  pid_t pid;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, in[0], 0);
  posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
  int rc = posix_spawnp (&pid, r->argv[0], &fa, NULL, r->argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (in[0]);
  close (out[1]);
  close (err[1]);
  in[0] = out[1] = err[1] = -1;
  if (rc)
    {
      r->spawn_err = rc;
      goto done;
    }

  /* clang may exit without reading all its input: a write then fails
     with EPIPE, and the SIGPIPE that comes with it must not kill Guile.  */
  sigset_t pipe_set, old, pending;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  sigpending (&pending);
  bool pipe_was_pending = sigismember (&pending, SIGPIPE);
  bool got_epipe = false;

  size_t off = 0;
  fcntl (in[1], F_SETFL, O_NONBLOCK);
  if (r->in_len == 0)
    {
      close (in[1]);
      in[1] = -1;
    }
  while (in[1] >= 0 || out[0] >= 0 || err[0] >= 0)
    {
      struct pollfd p[3];
      int *fds[3];
      nfds_t n = 0;
      if (in[1] >= 0)
        p[n] = (struct pollfd) { in[1], POLLOUT, 0 }, fds[n++] = &in[1];
      if (out[0] >= 0)
        p[n] = (struct pollfd) { out[0], POLLIN, 0 }, fds[n++] = &out[0];
      if (err[0] >= 0)
        p[n] = (struct pollfd) { err[0], POLLIN, 0 }, fds[n++] = &err[0];
      if (poll (p, n, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      for (nfds_t i = 0; i < n; i++)
        {
          if (!p[i].revents)
            continue;
          if (fds[i] == &in[1])
            {
              ssize_t w = write (in[1], r->in + off, r->in_len - off);
              if (w > 0)
                off += w;
              else if (w < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
              else if (w < 0 && errno == EPIPE)
                got_epipe = true;
              if (w <= 0 || off == r->in_len)
                {
                  close (in[1]);
                  in[1] = -1;
                }
            }
          else
            drain (fds[i], fds[i] == &out[0] ? &r->out : &r->err, r);
        }
    }
  if (got_epipe && !pipe_was_pending)
    {
      struct timespec zero = { 0, 0 };
      sigtimedwait (&pipe_set, NULL, &zero);
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  while (waitpid (pid, &r->status, 0) < 0 && errno == EINTR)
    ;

done:
  for (int i = 0; i < 2; i++)
    {
      if (in[i] >= 0)
        close (in[i]);
      if (out[i] >= 0)
        close (out[i]);
      if (err[i] >= 0)
        close (err[i]);
    }
  return NULL;
}

/* Prepare R for run: its buffers are released when the current dynwind
   context ends.  */
void
gebpf_run_init (struct run *r)
{
  memset (r, 0, sizeof *r);
  scm_dynwind_unwind_handler (gebpf_buf_free, &r->out, SCM_F_WIND_EXPLICITLY);
  scm_dynwind_unwind_handler (gebpf_buf_free, &r->err, SCM_F_WIND_EXPLICITLY);
}

/* Run ARGV with IN on stdin, outside Guile mode, into R (prepared by
   gebpf_run_init; what an earlier run left there is dropped).  */
void
gebpf_run (struct run *r, char *const *argv, const char *in, size_t in_len,
     const char *subr)
{
  gebpf_buf_free (&r->out);
  gebpf_buf_free (&r->err);
  r->argv = argv;
  r->in = in;
  r->in_len = in_len;
  r->nomem = false;
  scm_without_guile (run_process, r);
  if (r->nomem)
    gebpf_build_no_memory (subr);
  if (r->spawn_err == ENOENT || r->spawn_err == EACCES
      || r->spawn_err == ENOEXEC)
    gebpf_error (gebpf_k_compile, subr, r->spawn_err,
                 "install clang (apt-get install clang llvm), or set "
                 "EBPF_CLANG to the path of a clang that targets BPF",
                 "cannot run clang `%s'", argv[0]);
  if (r->spawn_err)
    gebpf_error (gebpf_k_compile, subr, r->spawn_err,
                 "check the system's process and file limits, then retry",
                 "cannot start clang `%s'", argv[0]);
}

bool
gebpf_run_ok (const struct run *r)
{
  return WIFEXITED (r->status) && WEXITSTATUS (r->status) == 0;
}

