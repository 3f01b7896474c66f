;;; policy.scm --- the policy examples/embed/embed.c applies.
;;;
;;; Counts this process's getpid() calls in the map `calls'.  Run through
;;; the embedding example:
;;;   ./pre-inst-env examples/embed/embed examples/embed/policy.scm getpid-watch calls 1

(defbpf-map calls #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)

(bpf-fn count-getpid (ctx)
  (when (= (pid) (const me))
    (map-increment! calls 0)))

(defbpf-program getpid-counter
  #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getpid"
  #:source count-getpid
  #:constants `((me . ,(getpid))))

(defbpf-policy getpid-watch
  #:description "Count this process's getpid calls"
  #:programs '("getpid-counter")
  #:maps '("calls"))
