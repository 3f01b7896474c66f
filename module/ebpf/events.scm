;;; (ebpf events) --- (being written).
(define-module (ebpf events))
