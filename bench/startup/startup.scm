;;; startup.scm --- the start-up benchmark's guile-ebpf side.
;;;
;;; Run as a script (guile --no-auto-compile -s startup.scm): count the
;;; getpid calls of this process on the tracepoint
;;; syscalls/sys_enter_getpid, call getpid once, wait until the map shows
;;; the count, print it and exit.  bench/startup/run times the whole
;;; process, with an empty object cache (cold) and a filled one (warm).

(use-modules (ebpf))

(defbpf-map counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)

(bpf-fn count-getpid (ctx)
  (when (= (tgid) (const me))
    (map-increment! counts 0)))

(defbpf-program getpid-counter
  #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getpid"
  #:source count-getpid
  #:constants `((me . ,(getpid))))

(bpf-attach! getpid-counter)
(getpid)
(let wait ()
  (when (zero? (bpf-map-ref counts 0))
    (wait)))
(display (bpf-map-ref counts 0))
(newline)
