;;; (ebpf program) --- (being written).
(define-module (ebpf program))
