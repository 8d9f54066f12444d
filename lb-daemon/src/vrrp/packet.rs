//! VRRP packet codec.
