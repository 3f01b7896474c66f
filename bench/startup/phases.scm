;;; phases.scm --- where the start-up of startup.scm goes, phase by phase.
;;;
;;; The same job as startup.scm, with the work that bpf-attach! does in
;;; one call done first in visible steps, each timed:
;;;
;;;   boot       Guile's own start, up to the first form of this script
;;;   modules    (use-modules (ebpf)): the .go files and the C extension
;;;   declare    defbpf-map, bpf-fn, defbpf-program
;;;   lower      bpf-fn -> BPF C (the C passes)
;;;   probe      the first bpf-build-c of the process, on a small text
;;;              that is in the cache: the cache directory's checks and
;;;              clang's identity (a stat, part of the cache key) plus a
;;;              cache hit
;;;   build      bpf-program-build: the unit bpf-attach! loads (the
;;;              body's C and the dispatcher stub) through clang on a
;;;              cold cache, a checked cache entry on a warm one
;;;   attach     bpf-attach!: lowering again (cheap), the object from the
;;;              cache (built above, cold or warm), map creation, program
;;;              load (verifier), the dispatcher stub's load, the
;;;              tracepoint's perf event and link
;;;   count      getpid and polling the map until it shows the count
;;;   detach     bpf-detach!: the kernel removes the tracepoint probe
;;;
;;; Prints one line per phase, "PHASE MILLISECONDS", and at the end
;;; "in-process MILLISECONDS" (Guile start to here).  The environment
;;; variable PROBE_CACHE names a cache directory that holds the object
;;; of the probe text (bench/startup/run fills it; for a cold run it
;;; holds no remembered clang --version line); XDG_CACHE_HOME is the
;;; run's own cache (empty for a cold run).

(define last 0)
(define (lap! phase)
  (let ((now (get-internal-real-time)))
    (format #t "~a ~a~%" phase
            (exact->inexact (/ (* 1000 (- now last))
                               internal-time-units-per-second)))
    (set! last now)))

(lap! "boot")
(use-modules (ebpf))
(lap! "modules")

(defbpf-map counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn count-getpid (ctx)
  (when (= (tgid) (const me))
    (map-increment! counts 0)))
(defbpf-program getpid-counter
  #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getpid"
  #:source count-getpid
  #:constants `((me . ,(getpid))))
(lap! "declare")

(define c-text
  (bpf-fn->c count-getpid #:kind 'tracepoint
             #:target "syscalls/sys_enter_getpid"
             #:constants `((me . ,(getpid)))))
(lap! "lower")

(define run-cache (getenv "XDG_CACHE_HOME"))
(setenv "XDG_CACHE_HOME" (getenv "PROBE_CACHE"))
(bpf-build-c "char LICENSE[] __attribute__((section(\"license\"))) = \"GPL\";\n")
(setenv "XDG_CACHE_HOME" run-cache)
(lap! "probe")

;; The unit bpf-attach! builds: the body's C (c-text above) and the
;; dispatcher stub, so that attach finds it in the cache.
(bpf-program-build getpid-counter)
(lap! "build")

(bpf-attach! getpid-counter)
(lap! "attach")

(getpid)
(let wait ()
  (when (zero? (bpf-map-ref counts 0))
    (wait)))
(lap! "count")

(bpf-detach! getpid-counter)
(lap! "detach")

(format #t "in-process ~a~%"
        (exact->inexact (/ (* 1000 (get-internal-real-time))
                           internal-time-units-per-second)))
