"""The main job behind `make run`: configure registries with the role, twice, to show the second run
changes nothing. Without SSM_URL it starts the SSM sandbox on 127.0.0.1 and uses example registries;
with SSM_URL it talks to that SSM and uses the registries of the file named by REGISTRIES."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def play(env, registries):
    command = ['ansible-playbook', 'squirrel.ssm.configure_registries', '-e', '@' + registries]
    print('$ ' + ' '.join(command), flush=True)
    return subprocess.call(command, env=env)


def main():
    # localhost is all the main job needs: Ansible's warnings about a missing inventory would only distract.
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_INVENTORY_UNPARSED_WARNING='False')
    sandbox = None
    if env.get('SSM_URL'):
        registries = env.get('REGISTRIES')
        if not registries:
            sys.exit('SSM_URL is set: name the file of the registries to configure in REGISTRIES '
                     '(see playbooks/vars/example_registries.yml for its form), with SSM_API_KEY or '
                     'SSM_USERNAME and SSM_PASSWORD in the environment.')
        print('Configuring the registries of %s from %s' % (env['SSM_URL'], registries))
    else:
        from tests.sandbox.ssm_sandbox import Sandbox
        sandbox = Sandbox().start()
        env.update(SSM_URL=sandbox.url, SSM_API_KEY='sandbox-api-key')
        registries = os.path.join(ROOT, 'playbooks', 'vars', 'example_registries.yml')
        print('SSM_URL is not set: using the SSM sandbox at %s with %s' % (sandbox.url, registries))
    try:
        for attempt in ('first run: converge', 'second run: nothing left to change'):
            print('\n=== %s ===' % attempt, flush=True)
            status = play(env, registries)
            if status:
                return status
            if sandbox:
                print('SSM sandbox served %d request(s), %d of them writes' % (len(sandbox.requests),
                                                                               len(sandbox.writes())))
                sandbox.clear_requests()
    finally:
        if sandbox:
            sandbox.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
