;;; (ebpf) --- write, load and operate eBPF programs from GNU Guile.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; The public surface: this module re-exports the public interface of
;;; each submodule, so (use-modules (ebpf)) is all a user needs.

(define-module (ebpf)
  #:use-module (ebpf error)
  #:use-module (ebpf types)
  #:use-module (ebpf map)
  #:use-module (ebpf features)
  #:use-module (ebpf build)
  #:use-module (ebpf packet)
  #:use-module (ebpf fn)
  #:use-module ((ebpf program) #:hide (bpf-test-run bpf-attach-socket!))
  #:use-module (ebpf deploy)
  #:use-module (ebpf policy)
  #:use-module (ebpf bpfman)
  #:use-module (ebpf events)
  #:use-module (ebpf metrics)
  #:use-module (ebpf repl)
  #:use-module ((ebpf syntax) #:select (set-user-interface!)))

;; What submodules export for each other, not for users.
(define internal
  '(((ebpf error) call-with-public-who)
    ((ebpf deploy) resolve-source lowering-target)))

(let ((public (module-public-interface (current-module))))
  (for-each (lambda (name)
              (module-use! public
                           (resolve-interface name
                                              #:hide (or (assoc-ref internal name)
                                                         '()))))
            '((ebpf error) (ebpf types) (ebpf map) (ebpf features)
              (ebpf build) (ebpf packet) (ebpf fn) (ebpf deploy)
              (ebpf policy) (ebpf bpfman) (ebpf events) (ebpf metrics) (ebpf repl)))
  ;; (ebpf deploy)'s bpf-test-run takes programs as well as objects.
  (module-use! public (resolve-interface '(ebpf program)
                                         #:hide '(bpf-test-run
                                                  bpf-attach-socket!)))
  ;; Scheme files named by a program's #:source see this interface.
  (set-user-interface! public))
