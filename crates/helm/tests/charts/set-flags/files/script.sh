echo "hello, world"
exit 0
