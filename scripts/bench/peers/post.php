<?php header('Content-Type: text/plain'); echo 'ok ', strlen(file_get_contents('php://input')), "\n";
