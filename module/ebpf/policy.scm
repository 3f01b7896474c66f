;;; (ebpf policy) --- (being written).
(define-module (ebpf policy))
