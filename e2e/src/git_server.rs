//! A real git server on loopback: smart HTTP (basic auth, HTTPS) and SSH (keys, host key).
