;;; (ebpf repl) --- (being written).
(define-module (ebpf repl))
