;;; once.scm --- a whole process: declare one program, attach it, exit.
;;;
;;; guile once.scm xdp IFACE | guile once.scm tracepoint
;;;
;;; Prints the milliseconds from Guile's start to the program attached;
;;; bench/swap/run also times the whole command from the shell, with an
;;; empty object cache (XDG_CACHE_HOME a fresh directory) and a warm one.
;;; The program is detached when the process exits.

(use-modules (ebpf))

(define kind (string->symbol (cadr (command-line))))

(bpf-fn once-xdp (ctx)
  (return :xdp-pass))

(bpf-fn once-tp (ctx)
  (when (= (tgid) (const me))
    (return 0)))

(define prog
  (case kind
    ((xdp)
     (make-bpf-program `((name . "once-xdp") (kind . xdp)
                         (attach . ,(caddr (command-line)))
                         (source . ,once-xdp))))
    (else
     (make-bpf-program `((name . "once-tp") (kind . tracepoint)
                         (attach . "syscalls/sys_enter_getpid")
                         (source . ,once-tp)
                         (constants . ((me . ,(getpid)))))))))
(bpf-attach! prog)
;; Guile's real time counts from its start: start to attached, in ms.
(format #t "~,3f~%" (/ (* 1000.0 (get-internal-real-time))
                      internal-time-units-per-second))
(exit (if (bpf-program-attached? prog) 0 1))
