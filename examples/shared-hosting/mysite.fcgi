#!/bin/sh
# Started by the web server (mod_fcgid, lighttpd's bin-path) with the listening socket on fd 0.
# touch this file to make runfcgi reload the app.
cd /home/user/myproject
exec ./node_modules/.bin/runfcgi app=./app.js method=threaded daemonize=false touchreload=/home/user/public_html/mysite.fcgi
