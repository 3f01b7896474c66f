;;; (ebpf fn) --- (being written).
(define-module (ebpf fn))
