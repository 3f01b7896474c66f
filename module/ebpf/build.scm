;;; (ebpf build) --- (being written).
(define-module (ebpf build))
