"""Installs lopro: `pip install -e .` (CPU JAX), `.[test]`, `.[cuda]`, `.[tpu]`."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent
REQUIREMENTS = [
    line.strip() for line in (HERE / 'requirements.txt').read_text().splitlines()
    if line.strip() and not line.startswith('#')
]

setuptools.setup(
    name='lopro',
    version='0.2.0',
    description='Find learning-friendly generation orders by loss profiling '
                '(JAX).',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=setuptools.find_packages(include=['lopro', 'lopro.*']),
    python_requires='>=3.11',
    install_requires=REQUIREMENTS,
    extras_require={
        # The suite runs in parallel (pytest.ini) and executes colab/.
        'test': ['pytest>=8.0', 'pytest-xdist>=3.8', 'nbclient>=0.10',
                 'nbformat>=5.9', 'ipykernel>=6.29'],
        # GPU: JAX's CUDA 12 wheels (NVIDIA driver >= 525 needed).
        'cuda': ['jax[cuda12]>=0.7.0'],
        # Cloud TPU VMs.
        'tpu': ['jax[tpu]>=0.7.0'],
    },
)
